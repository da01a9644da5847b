// The visitor hash field (detect's visitor state, `keys.visitor`) naming the profile a click in a
// sent message linked the visitor to: written by the ingest's click redirect, read by the
// campaign's reconciliation (`{visitorLink: true}`). Detect never touches fields outside its own.
export const visitorLinkField = 'link';
