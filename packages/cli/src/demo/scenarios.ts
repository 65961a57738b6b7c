/**
 * What the demo's simulated workers do: a rotation of task scripts for a few
 * owners, each with stages, messages and log lines, and an outcome. Durations are
 * at speed 1 (5-60 s).
 */

export type Outcome = 'succeed' | 'fail' | 'approval' | 'die' | 'cancel';

export interface Stage {
  name: string;
  /** What the message counts: `3 of 12 <unit>`. */
  unit: string;
  count: number;
  /** Logged when the stage starts, then now and then while it runs. */
  logs: readonly string[];
}

export interface Scenario {
  slug: string;
  title: string;
  owner: string;
  durationMs: number;
  stages: readonly Stage[];
  outcome: Outcome;
  /** The fraction of the work at which the outcome happens (fail, approval, die, cancel). */
  at?: number;
  /** The error a failing task ends with. */
  error?: { message: string; code: string };
  /** For `approval`. */
  prompt?: string;
  /** The first stage reports progress null (unknown). */
  indeterminateStart?: boolean;
}

const stage = (name: string, unit: string, count: number, ...logs: string[]): Stage => ({ name, unit, count, logs });

/** The rotation. The first four cover every outcome the demo shows, so a fresh start shows them all soon. */
export const SCENARIOS: readonly Scenario[] = [
  {
    slug: 'report',
    title: 'Generate quarterly report',
    owner: 'alice',
    durationMs: 20_000,
    outcome: 'succeed',
    stages: [
      stage('fetch', 'sources', 12, 'connecting to the warehouse', 'fetched sales.parquet (41 MB)'),
      stage('analyse', 'metrics', 30, 'computing revenue by region', 'outlier detected in EMEA week 7'),
      stage('render', 'pages', 8, 'rendering charts', 'embedding fonts'),
    ],
  },
  {
    slug: 'deploy',
    title: 'Deploy web app to production',
    owner: 'bob',
    durationMs: 25_000,
    outcome: 'approval',
    at: 0.5,
    prompt: 'Staging checks passed. Promote build 1.8.2 to production?',
    stages: [
      stage('build', 'modules', 64, 'npm ci', 'bundling 64 modules'),
      stage('staging', 'checks', 10, 'deployed to staging', 'smoke tests green'),
      stage('production', 'instances', 6, 'rolling update started', 'draining old instances'),
    ],
  },
  {
    slug: 'import',
    title: 'Import customers.csv',
    owner: 'alice',
    durationMs: 15_000,
    outcome: 'fail',
    at: 0.6,
    error: { message: 'row 4182: "bob@@example" is not an email address', code: 'bad_row' },
    stages: [
      stage('upload', 'MB', 18, 'receiving customers.csv'),
      stage('validate', 'rows', 10_000, 'checking 10,000 rows', 'column "email" mapped'),
      stage('insert', 'rows', 10_000, 'inserting in batches of 500'),
    ],
  },
  {
    slug: 'backup',
    title: 'Nightly database backup',
    owner: 'bob',
    durationMs: 40_000,
    outcome: 'die',
    at: 0.35,
    stages: [
      stage('snapshot', 'tables', 48, 'pg_dump started', 'locking nothing: snapshot isolation'),
      stage('compress', 'GB', 12, 'zstd level 9'),
      stage('upload', 'parts', 24, 'multipart upload to s3://backups'),
    ],
  },
  {
    slug: 'transcode',
    title: 'Transcode keynote.mov to 4 formats',
    owner: 'carol',
    durationMs: 60_000,
    outcome: 'succeed',
    indeterminateStart: true,
    stages: [
      stage('probe', 'streams', 3, 'probing input', 'found 1 video and 2 audio streams'),
      stage('encode', 'frames', 86_400, 'h264 1080p', 'vp9 720p', 'av1 480p'),
      stage('package', 'renditions', 4, 'writing HLS playlists'),
    ],
  },
  {
    slug: 'thumbnails',
    title: 'Resize 240 images',
    owner: 'alice',
    durationMs: 8_000,
    outcome: 'succeed',
    stages: [stage('resize', 'images', 240, 'sharp: 4 threads', 'skipped 2 already-resized images')],
  },
  {
    slug: 'tests',
    title: 'Run integration tests',
    owner: 'bob',
    durationMs: 30_000,
    outcome: 'fail',
    at: 0.85,
    error: { message: '3 of 212 tests failed (checkout.spec.ts)', code: 'tests_failed' },
    stages: [
      stage('setup', 'services', 4, 'starting postgres and redis'),
      stage('run', 'tests', 212, 'checkout.spec.ts: 1 failure', 'retrying flaky test once'),
    ],
  },
  {
    slug: 'train',
    title: 'Fine-tune the ranking model',
    owner: 'carol',
    durationMs: 45_000,
    outcome: 'succeed',
    stages: [
      stage('prepare', 'shards', 16, 'tokenizing 1.2M examples'),
      stage('train', 'epochs', 3, 'loss 0.412', 'loss 0.287', 'checkpoint saved'),
      stage('evaluate', 'suites', 5, 'NDCG@10 = 0.71 (+0.03)'),
    ],
  },
  {
    slug: 'mailbox',
    title: 'Sync mailbox',
    owner: 'alice',
    durationMs: 5_000,
    outcome: 'succeed',
    stages: [stage('sync', 'messages', 37, 'IMAP IDLE resumed')],
  },
  {
    slug: 'export',
    title: 'Export workspace data',
    owner: 'carol',
    durationMs: 12_000,
    outcome: 'cancel',
    at: 0.5,
    stages: [stage('collect', 'projects', 14, 'collecting projects'), stage('zip', 'files', 920, 'writing export.zip')],
  },
  {
    slug: 'docs',
    title: 'Build the docs site',
    owner: 'bob',
    durationMs: 18_000,
    outcome: 'succeed',
    stages: [
      stage('markdown', 'pages', 120, 'parsing 120 pages'),
      stage('links', 'links', 1_400, 'checking links', '2 redirects updated'),
      stage('publish', 'files', 310, 'uploading to the CDN'),
    ],
  },
  {
    slug: 'invoices',
    title: 'Generate invoice PDFs',
    owner: 'carol',
    durationMs: 22_000,
    outcome: 'fail',
    at: 0.3,
    error: { message: 'the billing API timed out after 3 retries', code: 'upstream_timeout' },
    stages: [
      stage('fetch', 'accounts', 500, 'GET /billing/accounts'),
      stage('render', 'invoices', 500, 'rendering with template v3'),
    ],
  },
];

export const DEMO_OWNERS: readonly string[] = [...new Set(SCENARIOS.map((s) => s.owner))];
