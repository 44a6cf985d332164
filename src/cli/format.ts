/** Plain-text output the way docker prints it: sizes, ages, aligned tables. */

/**
 * Docker's HumanSize: SI units, `precision` significant digits. Listings use
 * 3 ("910B", "13.3kB", "188MB"), progress bars docker's default of 4 ("1.5kB", "2.335MB").
 */
export function humanSize(bytes: number, precision = 3): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(precision))}${units[i]}`;
}

/** Docker's HumanDuration followed by "ago" ("About a minute ago", "3 months ago"). */
export function timeAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  const h = s / 3600;
  const days = h / 24;
  const text =
    s < 1 ? 'Less than a second'
    : s < 2 ? '1 second'
    : s < 60 ? `${Math.floor(s)} seconds`
    : s < 120 ? 'About a minute'
    : s < 3600 ? `${Math.floor(s / 60)} minutes`
    : h < 2 ? 'About an hour'
    : h < 48 ? `${Math.floor(h)} hours`
    : days < 14 ? `${Math.floor(days)} days`
    : days < 60 ? `${Math.floor(days / 7)} weeks`
    : days < 730 ? `${Math.floor(days / 30)} months`
    : `${Math.floor(days / 365)} years`;
  return `${text} ago`;
}

/** Go's time.Time.String() in UTC, as docker's CreatedAt fields print it: "2021-01-01 00:00:00 +0000 UTC". */
export function goTime(iso: string | undefined): string {
  if (!iso || Number.isNaN(Date.parse(iso))) return '';
  return new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC');
}

/** docker's formatter.Ellipsis: at most `n` characters, the last one '…' when cut. */
export function ellipsis(s: string, n: number): string {
  const chars = [...s];
  return chars.length <= n ? s : chars.slice(0, n - 1).join('') + '…';
}
