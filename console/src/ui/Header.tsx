// The header: product name, navigation, connection state, who is signed in, language, sound,
// sign-out. Every control is a labelled button; states are written out, not only coloured.

import { signOut } from '../actions';
import { type Page, pagesFor, takesPush } from '../lib/evidence';
import type { MessageKey } from '../lib/i18n';
import {
  clockSuspect,
  conn,
  lang,
  muted,
  refusedCount,
  route,
  session,
  setLang,
  setMuted,
  t,
} from '../store';

/** The navigation's label of each page. */
const NAV_LABELS: Record<Page, MessageKey> = {
  alerts: 'nav.alerts',
  live: 'nav.live',
  hotspots: 'nav.hotspots',
  stats: 'nav.stats',
  operations: 'nav.operations',
  playback: 'nav.playback',
  units: 'nav.units',
  search: 'nav.search',
  exports: 'nav.exports',
  holds: 'nav.holds',
  custody: 'nav.custody',
  users: 'nav.users',
  audit: 'nav.audit',
  keys: 'nav.keys',
  cameras: 'nav.cameras',
  onvif: 'nav.onvif',
  webhooks: 'nav.webhooks',
};

function ConnBadge() {
  const s = conn.value;
  if (s === 'stopped') return null;
  const key =
    s === 'live'
      ? 'conn.live'
      : s === 'connecting'
        ? 'conn.connecting'
        : s === 'reconnecting'
          ? 'conn.reconnecting'
          : 'conn.unsupported';
  return (
    <p class={`conn conn-${s}`} role="status">
      <span class="conn-dot" aria-hidden="true" />
      {t.value(key)}
      {refusedCount.value > 0 && (
        <span class="conn-extra">
          {t.value('conn.refused', { n: refusedCount.value })}
        </span>
      )}
      {clockSuspect.value && <span class="conn-extra">{t.value('conn.clock')}</span>}
    </p>
  );
}

export function Header() {
  const me = session.value;
  const other = lang.value === 'he' ? 'en' : 'he';
  return (
    <header class="app-header">
      <p class="brand">
        <span class="brand-name">{t.value('app.name')}</span>
      </p>
      {me && me.role !== 'unit' && pagesFor(me.role).length > 0 && (
        <nav aria-label={t.value('nav.label')}>
          {pagesFor(me.role).map((p) => (
            <a key={p} href={`#/${p}`} aria-current={route.value === p ? 'page' : undefined}>
              {t.value(NAV_LABELS[p])}
            </a>
          ))}
        </nav>
      )}
      <ConnBadge />
      <div class="header-tools">
        {me && (
          <p class="who">
            <span class="visually-hidden">{t.value('header.signedInAs')} </span>
            <bdi>{me.username}</bdi>
          </p>
        )}
        <button
          type="button"
          class="btn btn-quiet"
          lang={other}
          onClick={() => setLang(other)}
        >
          {t.value('header.otherLanguage')}
        </button>
        {(!me || takesPush(me.role)) && (
          <button
            type="button"
            class="btn btn-quiet btn-toggle"
            aria-pressed={muted.value}
            onClick={() => setMuted(!muted.value)}
          >
            {t.value('header.mute')}
          </button>
        )}
        {me && (
          <button type="button" class="btn btn-quiet" onClick={() => void signOut()}>
            {t.value('header.signOut')}
          </button>
        )}
      </div>
    </header>
  );
}
