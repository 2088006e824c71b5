// Error and loading states: a message announced to screen readers as it appears, and a whole page
// standing in for one whose data is still loading or failed to load.

import { t } from '../store';

/** `message` as an alert (`role="alert"`), or nothing while there is none. */
export function ErrorText({ message }: { message: string | null | undefined }) {
  if (message === null || message === undefined) return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

/** The page (`<main>` of class `pageClass`) while its data loads (`failure` null) or after it failed to. */
export function PendingPage({ failure, pageClass }: { failure: string | null; pageClass: string }) {
  return (
    <main id="main" class={pageClass} tabIndex={-1}>
      {failure === null ? <p class="muted">{t.value('app.loading')}</p> : <ErrorText message={failure} />}
    </main>
  );
}
