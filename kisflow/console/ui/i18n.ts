/** The console's two languages: Chinese (the seed's users) and English. */
export type Lang = 'zh' | 'en';

const en = {
  overview: 'Overview',
  flows: 'Flows',
  runs: 'Runs',
  jobs: 'Jobs',
  deadLetters: 'Dead letters',
  connectors: 'Connectors',
  config: 'Config',
  language: '中文',
  refresh: 'Refresh',
  loading: 'Loading…',
  live: 'live',
  source: 'Source',
  flowsCount: 'Flows',
  jobsCount: 'Jobs',
  runs24h: 'Runs, last 24 h',
  successRatio: 'Success ratio',
  successRatio24h: 'Success, last 24 h',
  deadLettersWaiting: 'Dead letters waiting',
  runsPerDay: 'Runs per day',
  days7: '7 days',
  days30: '30 days',
  day: 'day',
  succeeded: 'succeeded',
  failed: 'failed',
  rowsPerStep: 'Rows per step, last 24 h',
  flow: 'Flow',
  step: 'Step',
  fid: 'Function',
  mode: 'Mode',
  in: 'In',
  out: 'Out',
  rejected: 'Rejected',
  dropped: 'Dropped',
  deadLettered: 'Dead-lettered',
  errors: 'Errors',
  backlog: 'Backlog',
  inFlight: 'In flight',
  oldestAge: 'Oldest',
  p95: 'p95',
  p95Window: 'runs of the last 24 h, on AWS the last 5 min; hover a figure for its source',
  ageFauxqs:
    "Age of the oldest message in the step's input queue now (fauxqs queue inspection); 0 when the queue is empty.",
  ageCloudWatch:
    "Age of the oldest message in the step's input queue: CloudWatch AWS/SQS ApproximateAgeOfOldestMessage, Maximum over the last 5 min.",
  ageUnsupported:
    'Unknown: this SQS server reports no age of the oldest message (fauxqs and CloudWatch on AWS do).',
  p95Ledger:
    "The largest of the p95 batch durations of this step's runs in the last 24 h (runs: {n}; each at most 9 % above the true p95): a run ledger keeps no histogram to merge.",
  p95NoRuns: 'Unknown: no run of the last 24 h timed a batch of this step.',
  p95CloudWatch: "The step Lambda's Duration p95 over the last 5 min (CloudWatch AWS/Lambda).",
  p95NoFunction:
    "Unknown: the flow's CloudWatch dashboard names no Lambda for this step (redeploy the flow).",
  noDatapoints:
    'Unknown: CloudWatch has no datapoint in the last 5 min (no invocation, or the queue has been idle for 6 h).',
  readFailed: 'Unknown: reading it failed: {n}',
  dlq: 'DLQ',
  connector: 'Connector',
  otherFlows: 'Joins',
  job: 'Job',
  status: 'Status',
  trigger: 'Trigger',
  since: 'Since',
  started: 'Started',
  finished: 'Finished',
  duration: 'Duration',
  rows: 'Rows',
  cost: 'Cost',
  any: 'any',
  run: 'Run',
  params: 'Params',
  batches: 'Batches',
  parent: 'Repairs run',
  reason: 'Reason',
  steps: 'Steps',
  activity: 'Activity per step',
  timeline: 'Timeline (first → last batch)',
  batchesCol: 'Batches',
  logs: 'Log lines',
  logsNotAvailable:
    "On AWS, read this run's log lines with `kisflow runs logs <run>` (CloudWatch Logs Insights).",
  rejectedRows: 'Rejected rows and failed messages',
  none: 'none',
  cancel: 'Cancel run',
  retry: 'Retry what failed',
  schedule: 'Schedule',
  timezone: 'Time zone',
  state: 'State',
  nextFires: 'Next fires',
  lastRun: 'Last run',
  recentRuns: 'Recent runs',
  triggerNow: 'Trigger now',
  paramsHint: 'params, one k=v per line',
  pause: 'Pause',
  resume: 'Resume',
  code: 'Code',
  message: 'Message',
  received: 'Receives',
  samples: 'Sample rows',
  redriveSelected: 'Redrive selected',
  selectAll: 'Select all',
  noDeadLetters: 'No dead letters.',
  moved: 'dead letter(s) sent back',
  key: 'Key',
  keyPrefix: 'key starts with',
  sort: 'Sort',
  row: 'Row',
  browse: 'Browse',
  more: 'More',
  saves: 'Saved by',
  loads: 'Loaded by',
  files: 'YAML files',
  problems: 'Problems (kisflow validate)',
  noProblems: 'No problems: every document loads and every handler imports.',
  functions: 'Functions',
  handler: 'Handler',
  notAvailable: 'not available',
  error: 'Error',
  startedRun: 'Started run',
  noRuns: 'No runs.',
  all: 'all',
  streams: 'Streams, last 15 min',
  rowsPerMinute: 'Rows/min',
  lag: 'Lag',
};

export type MessageKey = keyof typeof en;

const zh: Record<MessageKey, string> = {
  overview: '概览',
  flows: '流',
  runs: '运行',
  jobs: '任务',
  deadLetters: '死信',
  connectors: '连接器',
  config: '配置',
  language: 'English',
  refresh: '刷新',
  loading: '加载中…',
  live: '实时',
  source: '来源',
  flowsCount: '流',
  jobsCount: '任务',
  runs24h: '近 24 小时运行',
  successRatio: '成功率',
  successRatio24h: '近 24 小时成功率',
  deadLettersWaiting: '待处理死信',
  runsPerDay: '每日运行',
  days7: '7 天',
  days30: '30 天',
  day: '日期',
  succeeded: '成功',
  failed: '失败',
  rowsPerStep: '各步骤行数（近 24 小时）',
  flow: '流',
  step: '步骤',
  fid: '函数',
  mode: '模式',
  in: '输入',
  out: '输出',
  rejected: '拒绝',
  dropped: '丢弃',
  deadLettered: '进入死信',
  errors: '错误',
  backlog: '积压',
  inFlight: '处理中',
  oldestAge: '最久等待',
  p95: 'p95',
  p95Window: '最近 24 小时的运行，AWS 上为最近 5 分钟；悬停数字查看来源',
  ageFauxqs: '该步骤输入队列中最早消息的当前等待时间（fauxqs 队列检查）；队列为空时为 0。',
  ageCloudWatch:
    '该步骤输入队列中最早消息的等待时间：CloudWatch AWS/SQS ApproximateAgeOfOldestMessage，最近 5 分钟的最大值。',
  ageUnsupported: '未知：此 SQS 服务器不提供最早消息的等待时间（fauxqs 和 AWS 上的 CloudWatch 提供）。',
  p95Ledger:
    '该步骤最近 24 小时各次运行的 p95 批处理耗时中的最大值（运行数：{n}；每个最多比真实 p95 高 9%）：运行台账不保存可合并的直方图。',
  p95NoRuns: '未知：最近 24 小时没有运行记录该步骤的批处理耗时。',
  p95CloudWatch: '该步骤 Lambda 最近 5 分钟的 Duration p95（CloudWatch AWS/Lambda）。',
  p95NoFunction: '未知：该流的 CloudWatch 仪表板没有列出此步骤的 Lambda（请重新部署该流）。',
  noDatapoints: '未知：CloudWatch 最近 5 分钟没有数据点（没有调用，或队列已空闲 6 小时）。',
  readFailed: '未知：读取失败：{n}',
  dlq: '死信队列',
  connector: '连接器',
  otherFlows: '连接的流',
  job: '任务',
  status: '状态',
  trigger: '触发方式',
  since: '起始',
  started: '开始',
  finished: '结束',
  duration: '耗时',
  rows: '行数',
  cost: '费用',
  any: '全部',
  run: '运行',
  params: '参数',
  batches: '批次',
  parent: '修复的运行',
  reason: '原因',
  steps: '步骤',
  activity: '各步骤活动',
  timeline: '时间线（首批 → 末批）',
  batchesCol: '批次',
  logs: '日志',
  logsNotAvailable:
    '在 AWS 上请用 `kisflow runs logs <run>` 查看本次运行的日志（CloudWatch Logs Insights）。',
  rejectedRows: '被拒绝的行与失败的消息',
  none: '无',
  cancel: '取消运行',
  retry: '重试失败部分',
  schedule: '调度',
  timezone: '时区',
  state: '状态',
  nextFires: '下次触发',
  lastRun: '上次运行',
  recentRuns: '最近运行',
  triggerNow: '立即触发',
  paramsHint: '参数，每行一个 k=v',
  pause: '暂停',
  resume: '恢复',
  code: '代码',
  message: '信息',
  received: '接收次数',
  samples: '示例行',
  redriveSelected: '重新投递所选',
  selectAll: '全选',
  noDeadLetters: '没有死信。',
  moved: '条死信已重新投递',
  key: '键',
  keyPrefix: '键前缀',
  sort: '排序键',
  row: '行',
  browse: '浏览',
  more: '更多',
  saves: '写入方',
  loads: '读取方',
  files: 'YAML 文件',
  problems: '问题（kisflow validate）',
  noProblems: '没有问题：所有文档均可加载，所有处理函数均可导入。',
  functions: '函数',
  handler: '处理函数',
  notAvailable: '不可用',
  error: '错误',
  startedRun: '已启动运行',
  noRuns: '没有运行。',
  all: '全部',
  streams: '数据流（近 15 分钟）',
  rowsPerMinute: '行/分钟',
  lag: '延迟',
};

const STATUS_ZH: Record<string, string> = {
  running: '运行中',
  succeeded: '成功',
  failed: '失败',
  partial: '部分成功',
  timed_out: '超时',
  cancelled: '已取消',
  skipped: '已跳过',
  on: '启用',
  off: '停用',
};

let current: Lang = 'en';
const listeners = new Set<() => void>();

/** The language: a choice made with the switch, else the one the server read from Accept-Language. */
export function initialLang(): Lang {
  const saved = localStorage.getItem('kisflow-lang');
  if (saved === 'zh' || saved === 'en') return saved;
  const meta = document.querySelector<HTMLMetaElement>('meta[name="kisflow-lang"]')?.content;
  if (meta === 'zh' || meta === 'en') return meta;
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export function setLang(lang: Lang): void {
  current = lang;
  localStorage.setItem('kisflow-lang', lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const l of listeners) l();
}

export function lang(): Lang {
  return current;
}

export function onLangChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function t(key: MessageKey): string {
  return (current === 'zh' ? zh : en)[key];
}

/** A run status or job state in the page's language (the code stays in a title). */
export function statusText(status: string): string {
  return current === 'zh' ? (STATUS_ZH[status] ?? status) : status.replace('_', ' ');
}
