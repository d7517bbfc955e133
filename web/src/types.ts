// Wire types: exactly the objects of the public contract (shared/api-contract.md).

export interface User {
  id: string;
  username: string;
  displayName: string;
  avatarUrl: string | null;
  statusMessage: string;
  online: boolean;
  lastSeenAt: number | null;
}

export interface Message {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  user: string;
  msg: string;
  clientId: string;
  createdAt: number;
}

export interface Conversation {
  id: string;
  kind: "direct" | "lobby" | string;
  peer: User | null;
  lastMessage: Message | null;
  unreadCount: number;
  lastReadSeq: number;
  peerLastReadSeq: number;
  createdAt: number;
}

export interface TypingEvent { conversationId: string; userId: string }
export interface ReadEvent { conversationId: string; userId: string; seq: number }
export interface PresenceEvent { userId: string; online: boolean; lastSeenAt: number | null }

export const LOBBY_ID = "lobby";
