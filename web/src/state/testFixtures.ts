// The lifecycle fields of a plain, untouched text message, for test fixtures.
export const LIFECYCLE = {
  type: "text", system: null, replyTo: null, editedAt: null, deletedAt: null, reactions: [],
} as const;
