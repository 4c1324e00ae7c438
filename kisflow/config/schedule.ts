/**
 * Syntax of a job's `schedule` and `timezone`, checked as EventBridge Scheduler checks them, so a
 * mistake shows up in `kisflow validate` rather than halfway through a deploy.
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 */

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const AT = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/;
const CRON = /^cron\((.*)\)$/;

export const SCHEDULE_FORMS =
  'rate(<n> minutes|hours|days), cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) or at(yyyy-mm-ddThh:mm:ss)';

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names standing for min, min+1, ... (months, week days). */
  readonly names?: readonly string[];
  readonly question?: boolean;
  readonly step?: boolean;
  /** `L`, `LW`, `<n>W` (day of month). */
  readonly lastAndWeekday?: boolean;
  /** `L`, `<n>L`, `<n>#<k>` (day of week). */
  readonly lastAndNth?: boolean;
}

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minutes', min: 0, max: 59, step: true },
  { name: 'hours', min: 0, max: 23, step: true },
  { name: 'day-of-month', min: 1, max: 31, question: true, step: true, lastAndWeekday: true },
  { name: 'month', min: 1, max: 12, names: MONTHS, step: true },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS, question: true, lastAndNth: true },
  { name: 'year', min: 1970, max: 2199, step: true },
];

function valueProblem(text: string, field: CronField): string | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= field.min && n <= field.max ? undefined : `${n} is outside ${field.min}-${field.max}`;
  }
  if (field.names?.includes(text.toUpperCase())) return undefined;
  const allowed = field.names ? ` or ${field.names[0]}-${field.names[field.names.length - 1]}` : '';
  return `"${text}" is not a number in ${field.min}-${field.max}${allowed}`;
}

function itemProblem(item: string, field: CronField): string | undefined {
  if (item === '*') return undefined;
  if (item === '?') return field.question ? undefined : `"?" is only allowed in day-of-month and day-of-week`;
  if (field.lastAndWeekday && /^(L|LW|\d+W)$/.test(item)) {
    return item.endsWith('W') && item !== 'LW' ? valueProblem(item.slice(0, -1), field) : undefined;
  }
  if (field.lastAndNth) {
    if (item === 'L') return undefined;
    const last = /^(\w+)L$/.exec(item);
    if (last?.[1]) return valueProblem(last[1], field);
    const nth = /^(\w+)#(\d+)$/.exec(item);
    if (nth?.[1] && nth[2]) {
      const k = Number(nth[2]);
      return valueProblem(nth[1], field) ?? (k >= 1 && k <= 5 ? undefined : `"#${k}" must be #1 to #5`);
    }
  }
  const [range = '', step, extra] = item.split('/');
  if (extra !== undefined) return `"${item}" has more than one "/"`;
  if (step !== undefined) {
    if (!field.step) return `"/" is not allowed in ${field.name}`;
    if (!/^\d+$/.test(step) || Number(step) < 1) return `step "${step}" must be a positive number`;
    if (range === '*') return undefined;
  }
  const bounds = range.split('-');
  if (bounds.length > 2 || bounds.some((b) => b === ''))
    return `"${item}" is not a value, a range a-b, or a step`;
  for (const bound of bounds) {
    const problem = valueProblem(bound, field);
    if (problem) return problem;
  }
  return undefined;
}

function cronProblem(body: string): string | undefined {
  const parts = body.trim().split(/\s+/);
  if (parts.length !== CRON_FIELDS.length) {
    return `cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${parts.length}`;
  }
  for (const [i, field] of CRON_FIELDS.entries()) {
    for (const item of (parts[i] as string).split(',')) {
      const problem = itemProblem(item, field);
      if (problem) return `cron ${field.name} "${parts[i]}": ${problem}`;
    }
  }
  // EventBridge rejects an expression that constrains both days: one of them must be `?`.
  if ((parts[2] === '?') === (parts[4] === '?')) {
    return 'cron needs "?" in exactly one of day-of-month and day-of-week (e.g. cron(0 8 * * ? *))';
  }
  return undefined;
}

function atProblem(match: RegExpExecArray): string | undefined {
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const same =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  return same ? undefined : 'at(...) is not a real date and time';
}

/**
 * What is wrong with a schedule expression, or `undefined` when EventBridge Scheduler accepts it.
 *
 * @example
 * scheduleProblem('rate(5 minutes)');  // undefined
 * scheduleProblem('cron(0 8 * * * *)'); // 'cron needs "?" in exactly one of day-of-month and day-of-week ...'
 */
export function scheduleProblem(expression: string): string | undefined {
  const rate = RATE.exec(expression);
  if (rate) return Number(rate[1]) >= 1 ? undefined : 'rate(...) needs a positive number';
  const at = AT.exec(expression);
  if (at) return atProblem(at);
  const cron = CRON.exec(expression);
  if (cron) return cronProblem(cron[1] as string);
  return `not a schedule: expected ${SCHEDULE_FORMS}`;
}

/**
 * What is wrong with a time zone name, or `undefined` for an IANA name the runtime knows.
 *
 * @example
 * timezoneProblem('Europe/Paris'); // undefined
 * timezoneProblem('Europe/Pariss'); // 'unknown IANA time zone (e.g. UTC, Europe/Paris, Asia/Shanghai)'
 */
export function timezoneProblem(timezone: string): string | undefined {
  const unknown = 'unknown IANA time zone (e.g. UTC, Europe/Paris, Asia/Shanghai)';
  // Offsets such as "+08:00" pass Intl on newer runtimes but not EventBridge Scheduler.
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(timezone)) return unknown;
  let canonical: string;
  try {
    canonical = new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    return unknown;
  }
  if (canonical !== timezone && canonical.toLowerCase() === timezone.toLowerCase()) {
    return `time zone names are case-sensitive: write "${canonical}"`;
  }
  return undefined;
}
