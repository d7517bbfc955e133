// The lifecycle fields of a plain, untouched text message, for test fixtures.
import type { Message } from "../types";

export const LIFECYCLE: Pick<Message, "type" | "system" | "replyTo" | "editedAt" | "deletedAt" | "reactions" | "attachments"> = {
  type: "text", system: null, replyTo: null, editedAt: null, deletedAt: null, reactions: [], attachments: [],
};
