// DOM ids of the queue's elements, and moving focus to them (focus follows the selection).

/** The DOM id of an alert's card. */
export const cardId = (id: string) => `alert-${id}`;
/** The DOM id of an alert's note field. */
export const noteId = (id: string) => `note-${id}`;

/** Focuses an alert's card after the next render. */
export function focusCard(id: string): void {
  requestAnimationFrame(() => document.getElementById(cardId(id))?.focus());
}
