// The page frame: header, the current page, and the polite live region (present from the start
// so screen readers pick up every announcement).

import { announcement, route, session, t } from '../store';
import { Header } from './Header';
import { LivePage } from './Live';
import { Queue } from './Queue';
import { DevicePage, SetupPage, SignInPage } from './SignIn';
import { UnitPage } from './Unit';
import { UnitsPage } from './Units';
import { PlaybackPage } from './Playback';
import { CustodyPage, ExportsPage, HoldsPage, SearchPage } from './Evidence';
import { AuditPage, KeysPage, UsersPage } from './Admin';
import { CamerasPage, OnvifPage, WebhooksPage } from './Integrator';
import { homeOf, type Page, pagesFor } from '../lib/evidence';
import { HotspotsPage } from './Hotspots';
import { StatsPage } from './Stats';
import { OperationsPage } from './Operations';

/** Moves focus to the page's main region (the hash stays the route's). */
function skipToMain(e: Event) {
  e.preventDefault();
  document.getElementById('main')?.focus();
}

export function App() {
  const r = route.value;
  const s = session.value;
  let page;
  if (r === 'setup') page = <SetupPage />;
  else if (r === 'device' && !s) page = <DevicePage />;
  else if (s === undefined) {
    page = (
      <main id="main" class="page-center" tabIndex={-1}>
        <p class="muted">{t.value('app.loading')}</p>
      </main>
    );
  } else if (s === null || r === 'login') page = <SignInPage />;
  else if (s.role === 'unit') page = <UnitPage />;
  else {
    // Each role sees only its own pages; another page's address shows the role's first.
    const mine: string[] = pagesFor(s.role);
    const p = (mine.includes(r) ? r : homeOf(s.role)) as Page | null;
    if (p === 'live') page = <LivePage />;
    else if (p === 'hotspots') page = <HotspotsPage />;
    else if (p === 'stats') page = <StatsPage />;
    else if (p === 'operations') page = <OperationsPage />;
    else if (p === 'units') page = <UnitsPage />;
    else if (p === 'playback') page = <PlaybackPage />;
    else if (p === 'search') page = <SearchPage />;
    else if (p === 'exports') page = <ExportsPage />;
    else if (p === 'holds') page = <HoldsPage />;
    else if (p === 'custody') page = <CustodyPage />;
    else if (p === 'users') page = <UsersPage />;
    else if (p === 'audit') page = <AuditPage />;
    else if (p === 'keys') page = <KeysPage />;
    else if (p === 'cameras') page = <CamerasPage />;
    else if (p === 'onvif') page = <OnvifPage />;
    else if (p === 'webhooks') page = <WebhooksPage />;
    else if (p === 'alerts') page = <Queue />;
    else {
      page = (
        <main id="main" class="page-center" tabIndex={-1}>
          <p class="muted">{t.value('app.noPages')}</p>
        </main>
      );
    }
  }
  return (
    <>
      <a class="skip-link" href="#main" onClick={skipToMain}>
        {t.value('app.skip')}
      </a>
      <Header />
      {page}
      <div class="visually-hidden" aria-live="polite" aria-atomic="true">
        {announcement.value}
      </div>
    </>
  );
}
