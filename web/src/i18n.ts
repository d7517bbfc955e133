// Korean and English strings. The language comes from navigator.language and
// can be switched; the choice is remembered.
import { createContext, useContext } from "react";

export type Lang = "ko" | "en";
const LANG_KEY = "natter.lang";

const en = {
  appName: "natter",
  tagline: "Real-time chat, simple and fast.",
  signIn: "Sign in",
  signUp: "Sign up",
  signOut: "Sign out",
  username: "Username",
  password: "Password",
  displayName: "Display name",
  displayNameOptional: "Display name (optional)",
  noAccount: "No account yet?",
  haveAccount: "Already have an account?",
  createAccount: "Create account",
  working: "Please wait…",
  chats: "Chats",
  people: "People",
  profile: "Profile",
  lobby: "Lobby",
  lobbyDesc: "Everyone is here",
  searchPeople: "Search people",
  searchPlaceholder: "Search by name or username",
  noResults: "No one found.",
  startChat: "Message",
  noConversations: "No conversations yet. Find someone in People.",
  emptyChat: "No messages yet.",
  selectChat: "Select a conversation to start chatting.",
  messagePlaceholder: "Write a message…",
  send: "Send",
  me: "Me",
  pending: "Sending…",
  sent: "Sent",
  failed: "Failed to send",
  retry: "Retry",
  read: "Read",
  typing: (name: string) => `${name} is typing…`,
  online: "Online",
  offline: "Offline",
  lastSeen: (when: string) => `Last seen ${when}`,
  disconnected: "Connection lost. Reconnecting…",
  connecting: "Connecting…",
  today: "Today",
  yesterday: "Yesterday",
  back: "Back",
  loadingOlder: "Loading earlier messages…",
  beginning: "This is the beginning of the conversation.",
  unread: (n: number) => `${n} unread`,
  you: "You: ",
  editProfile: "Edit profile",
  statusMessage: "Status message",
  save: "Save",
  saved: "Saved.",
  photo: "Profile photo",
  choosePhoto: "Choose photo",
  uploadPhoto: "Upload photo",
  removePhoto: "Remove photo",
  photoPreview: "Photo preview",
  cancel: "Cancel",
  language: "Language",
  close: "Close",
  newChat: "New chat",
  more: "Show more",
  jumpToLatest: "Jump to latest",
  passwordHint: "At least 8 characters.",
  usernameHint: "3–32 characters: a–z, 0–9, _ . -",
  errors: {
    invalid_credentials: "Wrong username or password.",
    username_taken: "That username is taken.",
    invalid_username: "Username: 3–32 characters, a–z, 0–9, _ . - only.",
    invalid_password: "Password must be 8–256 characters.",
    invalid_displayName: "Display name must be 1–64 characters.",
    invalid_statusMessage: "Status message may be 140 characters at most.",
    rate_limited: "Too many attempts. Try again later.",
    too_large: "That file is too large.",
    unsupported_media_type: "Use a PNG, JPEG, WebP or GIF image.",
    invalid_avatar: "Choose an image first.",
    network_error: "Cannot reach the server.",
    unauthorized: "Please sign in again.",
    not_found: "Not found.",
    server_error: "The server had a problem. Try again.",
    unknown: "Something went wrong.",
  } as Record<string, string>,
};

type Dict = typeof en;

const ko: Dict = {
  appName: "natter",
  tagline: "간편하고 빠른 실시간 채팅.",
  signIn: "로그인",
  signUp: "회원가입",
  signOut: "로그아웃",
  username: "아이디",
  password: "비밀번호",
  displayName: "표시 이름",
  displayNameOptional: "표시 이름 (선택)",
  noAccount: "계정이 없으신가요?",
  haveAccount: "이미 계정이 있으신가요?",
  createAccount: "계정 만들기",
  working: "잠시만요…",
  chats: "채팅",
  people: "사람",
  profile: "프로필",
  lobby: "로비",
  lobbyDesc: "모두가 모이는 곳",
  searchPeople: "사람 검색",
  searchPlaceholder: "이름 또는 아이디로 검색",
  noResults: "검색 결과가 없습니다.",
  startChat: "메시지",
  noConversations: "아직 대화가 없습니다. 사람 탭에서 찾아보세요.",
  emptyChat: "채팅 기록이 없습니다.",
  selectChat: "대화를 선택해 채팅을 시작하세요.",
  messagePlaceholder: "메시지를 입력하세요…",
  send: "보내기",
  me: "Me",
  pending: "보내는 중…",
  sent: "보냄",
  failed: "전송 실패",
  retry: "다시 시도",
  read: "읽음",
  typing: (name: string) => `${name}님이 입력 중…`,
  online: "온라인",
  offline: "오프라인",
  lastSeen: (when: string) => `마지막 접속 ${when}`,
  disconnected: "연결이 끊어졌습니다. 다시 연결하는 중…",
  connecting: "연결 중…",
  today: "오늘",
  yesterday: "어제",
  back: "뒤로",
  loadingOlder: "이전 메시지를 불러오는 중…",
  beginning: "대화의 시작입니다.",
  unread: (n: number) => `읽지 않은 메시지 ${n}개`,
  you: "나: ",
  editProfile: "프로필 편집",
  statusMessage: "상태 메시지",
  save: "저장",
  saved: "저장했습니다.",
  photo: "프로필 사진",
  choosePhoto: "사진 선택",
  uploadPhoto: "사진 올리기",
  removePhoto: "사진 삭제",
  photoPreview: "사진 미리보기",
  cancel: "취소",
  language: "언어",
  close: "닫기",
  newChat: "새 채팅",
  more: "더 보기",
  jumpToLatest: "최신 메시지로",
  passwordHint: "8자 이상.",
  usernameHint: "3–32자: a–z, 0–9, _ . -",
  errors: {
    invalid_credentials: "아이디 또는 비밀번호가 올바르지 않습니다.",
    username_taken: "이미 사용 중인 아이디입니다.",
    invalid_username: "아이디는 3–32자의 a–z, 0–9, _ . - 만 쓸 수 있습니다.",
    invalid_password: "비밀번호는 8–256자여야 합니다.",
    invalid_displayName: "표시 이름은 1–64자여야 합니다.",
    invalid_statusMessage: "상태 메시지는 140자까지 쓸 수 있습니다.",
    rate_limited: "시도가 너무 많습니다. 잠시 후 다시 시도하세요.",
    too_large: "파일이 너무 큽니다.",
    unsupported_media_type: "PNG, JPEG, WebP, GIF 이미지만 쓸 수 있습니다.",
    invalid_avatar: "먼저 이미지를 선택하세요.",
    network_error: "서버에 연결할 수 없습니다.",
    unauthorized: "다시 로그인하세요.",
    not_found: "찾을 수 없습니다.",
    server_error: "서버에 문제가 생겼습니다. 다시 시도하세요.",
    unknown: "문제가 생겼습니다.",
  },
};

export const dictionaries: Record<Lang, Dict> = { en, ko };
export type T = Dict;

export function detectLang(): Lang {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved === "ko" || saved === "en") return saved;
  } catch { /* ignore */ }
  const nav = typeof navigator !== "undefined" ? navigator.language || "" : "";
  return nav.toLowerCase().startsWith("ko") ? "ko" : "en";
}

export function saveLang(l: Lang) {
  try { localStorage.setItem(LANG_KEY, l); } catch { /* ignore */ }
}

export function errorText(t: T, code: string | undefined, fallback?: string): string {
  if (code && t.errors[code]) return t.errors[code];
  return fallback || t.errors.unknown;
}

export const I18nContext = createContext<{ lang: Lang; t: T; setLang: (l: Lang) => void }>({
  lang: "en", t: en, setLang: () => {},
});
export const useI18n = () => useContext(I18nContext);
