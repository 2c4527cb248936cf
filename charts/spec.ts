/**
 * The SecureVote spec, written once: the TypeScript types (Static<>), the
 * CRD's openAPIV3Schema (charts/crd.ts turns these TypeBox schemas into
 * crds/securevote.yaml) and the runtime parsing the operator and the stack
 * construct use (defaults, pruning, checks, the same cross-field rules the
 * API server runs in CEL). Defaults come from charts/rules.ts.
 */
import { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import pkg from '../package.json' with { type: 'json' };
import { IMAGE_TABLE, defaultImage, defaultImages, resolveImage, resolveNamed, type ImageTable } from './images.ts';
import { quantityValue, QUANTITY_PATTERN } from './quantity.ts';
import { CronError, parseCron } from './cron.ts';
import { BACKUP, COMPONENTS, DATABASE, METRICS, PART_OF, RESOURCES, type Component } from './rules.ts';
import { DATA_PRIORITY } from './priority.ts';

/** The SecureVote resource's identity in the API. */
export const SECUREVOTE_API = {
  group: `${PART_OF}.dev`,
  version: 'v1alpha1',
  apiVersion: `${PART_OF}.dev/v1alpha1`,
  kind: 'SecureVote',
  listKind: 'SecureVoteList',
  plural: 'securevotes',
  singular: 'securevote',
  shortName: 'sv',
} as const;

/**
 * An instance name: a DNS-1035 label (Service names derive from it) short
 * enough for the longest child name (`<name>-database-tuning`, pod names,
 * the 63-character label values).
 */
export const INSTANCE_NAME_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
export const INSTANCE_NAME_MAX_LENGTH = 30;

/**
 * The project's version: the operator's image tag, the version the operator
 * reports in status.operatorVersion, and app.kubernetes.io/version on
 * non-pod objects. Component images are versioned on their own
 * (charts/images.json).
 */
export const IMAGE_TAG: string = pkg.version;
export const PROJECT_VERSION: string = pkg.version;

/** The default image of each component: this release's table (charts/images.ts). */
export const DEFAULT_IMAGES: Readonly<Record<Component, string>> = defaultImages();

/** The vote options when the spec gives none. */
export const DEFAULT_OPTIONS: readonly VoteOption[] = [
  { id: 'cats', label: 'Cats' },
  { id: 'dogs', label: 'Dogs' },
];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;
export const MAX_REPLICAS = 10;
export const DNS1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** A CEL rule of the CRD (x-kubernetes-validations) and the same rule in TypeScript. */
export interface SpecRule {
  /** Where the rule sits, as a field path under the resource (`spec.options`). */
  readonly path: string;
  readonly rule: string;
  readonly message: string;
  /** True for a transition rule (needs the old object: `oldSelf`). */
  readonly transition?: boolean;
}

function enumOf<T extends readonly string[]>(values: T, options: { description: string; default?: T[number] }) {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  ) as unknown as TSchema & { static: T[number] };
}

function quantity(description: string, def: string) {
  return Type.Optional(
    Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: QUANTITY_PATTERN, maxLength: 32 })], {
      'x-kubernetes-int-or-string': true,
      description,
      default: def,
    }),
  );
}

function limitRule(component: Component, resource: 'cpu' | 'memory'): SpecRule {
  const l = `string(self.limits.${resource})`;
  const r = `string(self.requests.${resource})`;
  return {
    path: `spec.${component}.resources`,
    // has() guards: the API server also checks the rule against the bare `default: {}`.
    rule: `!has(self.limits) || !has(self.requests) || !has(self.limits.${resource}) || !has(self.requests.${resource}) || !isQuantity(${l}) || !isQuantity(${r}) || quantity(${l}).compareTo(quantity(${r})) >= 0`,
    message: `spec.${component}.resources.limits.${resource} must not be below spec.${component}.resources.requests.${resource}`,
  };
}

function celOf(rules: readonly SpecRule[]) {
  return rules.map((r) => ({ rule: r.rule, message: r.message }));
}

const resourceRules = (c: Component) => [limitRule(c, 'cpu'), limitRule(c, 'memory')];

function resources(c: Component) {
  const r = RESOURCES[c];
  const pair = (kind: 'requests' | 'limits', what: string) =>
    Type.Optional(
      Type.Object(
        {
          cpu: quantity(`CPU ${what} of the ${c} container (cores or millicores). Default: the seed's ${r[kind].cpu}.`, r[kind].cpu),
          memory: quantity(`Memory ${what} of the ${c} container. Default: the seed's ${r[kind].memory}.`, r[kind].memory),
        },
        { default: {}, description: `The ${c} container's resource ${kind}.`, additionalProperties: false },
      ),
    );
  return Type.Optional(
    Type.Object(
      {
        requests: pair('requests', 'request (the scheduler reserves it)'),
        limits: pair('limits', 'limit (the process is sized to fit it)'),
      },
      {
        default: {},
        description: `Requests and limits of the ${c} container; the defaults are the seed's table (exercise 4). Limits may not be below requests.`,
        additionalProperties: false,
        'x-kubernetes-validations': celOf(resourceRules(c)),
      },
    ),
  );
}

// No schema `default`: the API server would store it in every resource, and
// an operator upgrade would then never upgrade the app. The running
// operator's release fills it in (parseSpec), and an image that was an
// earlier release's default counts as unset (charts/images.ts).
const image = (c: Component) =>
  Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 512,
      description: `Container image of the ${c}. Unset: the running operator's default for its release (this one: ${DEFAULT_IMAGES[c]}), so upgrading the operator upgrades the ${c}; an earlier release's default image counts as unset. Set it to pin an image.`,
    }),
  );

// No schema default, as for images: a default stored in every resource would
// count as the user's change to the database and restart it on an upgrade.
const priorityClassName = (c: Component) =>
  Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: DNS1123_SUBDOMAIN,
      description: `PriorityClass of the ${c} pod. Unset: ${DATA_PRIORITY.name} (value ${DATA_PRIORITY.value}, in the operator's install and in dist/), above the replicas that wait on it, so a cluster short of CPU preempts a replica rather than leave the ${c} Pending.`,
    }),
  );

const replicas = (c: Component) =>
  Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_REPLICAS,
      default: 1,
      description: `Number of ${c} pods (1 to ${MAX_REPLICAS}); above 1 a PodDisruptionBudget keeps one available.`,
    }),
  );

/** The components whose pods may be scaled on CPU use (stateless, behind a Service). */
export const AUTOSCALED = ['backend', 'frontend'] as const satisfies readonly Component[];

/** CPU use, in percent of its request, that an autoscaled component's pods are scaled to keep. */
export const DEFAULT_CPU_TARGET_PERCENT = 70;
/** How long lower use must last before an autoscaled component loses a pod (the autoscaler's own default). */
export const DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS = 300;

export const autoscalingRule = (c: Component): SpecRule => ({
  path: `spec.${c}.autoscaling`,
  rule: 'self.minReplicas <= self.maxReplicas',
  message: `spec.${c}.autoscaling.minReplicas must not be above spec.${c}.autoscaling.maxReplicas`,
});

const autoscaling = (c: Component) =>
  Type.Optional(
    Type.Object(
      {
        minReplicas: Type.Integer({ minimum: 1, maximum: MAX_REPLICAS, description: `Fewest ${c} pods (1 to ${MAX_REPLICAS}).` }),
        maxReplicas: Type.Integer({ minimum: 1, maximum: MAX_REPLICAS, description: `Most ${c} pods (1 to ${MAX_REPLICAS}).` }),
        targetCPUUtilizationPercentage: Type.Optional(
          Type.Integer({
            minimum: 10,
            maximum: 100,
            default: DEFAULT_CPU_TARGET_PERCENT,
            description: `Average CPU use of the ${c}'s pods, in percent of their CPU request, that the autoscaler keeps them at. Default: ${DEFAULT_CPU_TARGET_PERCENT}.`,
          }),
        ),
        scaleDownStabilizationSeconds: Type.Optional(
          Type.Integer({
            minimum: 0,
            maximum: 3600,
            default: DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS,
            description: `How long the ${c}'s CPU use must stay lower before a pod is removed (the highest count wanted over this window wins). Default: ${DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS}.`,
          }),
        ),
      },
      {
        description: `Scale the ${c} on CPU use with a HorizontalPodAutoscaler (it needs the cluster's metrics API, e.g. metrics-server). While set, spec.${c}.replicas is ignored and the operator no longer writes the Deployment's replicas; scaling down waits scaleDownStabilizationSeconds, then removes one pod a minute, each drained as in a rollout.`,
        additionalProperties: false,
        'x-kubernetes-validations': celOf([autoscalingRule(c)]),
      },
    ),
  );

export const OPTION_RULES: readonly SpecRule[] = [
  { path: 'spec.options', rule: 'self.all(a, self.exists_one(b, b.id == a.id))', message: 'spec.options: every id must be unique' },
  { path: 'spec.options', rule: 'self.all(a, self.exists_one(b, b.label == a.label))', message: 'spec.options: every label must be unique' },
];

export const DATABASE_REPLICAS_RULE: SpecRule = {
  path: 'spec.database.replicas',
  rule: 'self == 1',
  message: 'spec.database.replicas must be 1: PostgreSQL runs as a single instance',
};

export const STORAGE_RULES: readonly SpecRule[] = [
  {
    path: 'spec.database.storage',
    rule: 'has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)',
    message: 'spec.database.storage.storageClassName is immutable',
    transition: true,
  },
  {
    path: 'spec.database.storage',
    rule: '!has(self.size) || !has(oldSelf.size) || string(self.size) == string(oldSelf.size)',
    message: 'spec.database.storage.size is immutable (a StatefulSet volume claim template cannot change)',
    transition: true,
  },
];

/**
 * spec.restore is for a new instance only: set at creation, then kept or
 * removed, never added or changed (a restore over a running instance would
 * replace the votes it has taken; the README says what that would cost).
 */
export const RESTORE_RULE: SpecRule = {
  path: 'spec',
  rule: '!has(self.restore) || (has(oldSelf.restore) && self.restore.backup == oldSelf.restore.backup)',
  message:
    'spec.restore can only be set when the SecureVote is created: restoring over a running instance would replace the votes it has taken; create a new SecureVote with spec.restore instead',
  transition: true,
};

/** Five cron fields (minute hour day month weekday) of digits, `*`, `/`, `,` and `-`; the operator checks the ranges. */
export const CRON_PATTERN = '^[0-9*/,-]+( [0-9*/,-]+){4}$';

/** A label key: an optional DNS subdomain prefix and a name of at most 63 characters. */
const LABEL_KEY = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';

function labelRule(path: string): SpecRule {
  return { path, rule: `self.all(k, k.matches('${LABEL_KEY.replace(/\\/g, '\\\\')}'))`, message: `${path}: every key must be a label key (an optional DNS prefix and /, then at most 63 letters, digits, '-', '_' or '.')` };
}

export const MONITORING_LABEL_RULES: readonly SpecRule[] = [labelRule('spec.monitoring.scraperNamespaceLabels'), labelRule('spec.monitoring.labels')];

/**
 * A map of labels (a selector's matchLabels, or labels to add). A default,
 * if any, is applied in code: the API server replaces an absent field by its
 * default, where TypeBox would merge a default map into a given one.
 */
function labels(rule: SpecRule, description: string) {
  return Type.Optional(
    Type.Record(Type.String(), Type.String({ maxLength: 63, pattern: LABEL_VALUE, description: 'A label value.' }), {
      maxProperties: 16,
      description,
      'x-kubernetes-validations': celOf([rule]),
    }),
  );
}

/** Who may scrape when spec.monitoring.scraperNamespaceLabels is unset: the namespace named `monitoring`. */
export const DEFAULT_SCRAPER_NAMESPACE_LABELS: Readonly<Record<string, string>> = { 'kubernetes.io/metadata.name': METRICS.scraperNamespace };

const VoteOptionSchema = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      maxLength: 32,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      description: 'Stable identifier of the option, sent with a vote (lowercase letters, digits, dashes).',
    }),
    label: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^\\S(.*\\S)?$',
      description: 'Text shown on the vote page (no leading or trailing spaces).',
    }),
  },
  { description: 'One vote option.', additionalProperties: false },
);

/** The spec as users write it: every defaulted field optional. */
export const SecureVoteSpecSchema = Type.Object(
  {
    options: Type.Optional(
      Type.Array(VoteOptionSchema, {
        minItems: 1,
        maxItems: 20,
        default: DEFAULT_OPTIONS,
        description: 'The vote options, in display order (1 to 20, ids and labels unique).',
        'x-kubernetes-validations': celOf(OPTION_RULES),
      }),
    ),
    logLevel: Type.Optional(enumOf(LOG_LEVELS, { default: 'info', description: 'Log level of the backend and frontend (JSON lines on stdout).' })),
    existingSecret: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: DNS1123_SUBDOMAIN,
        description:
          'Name of an existing Secret in the same namespace with the keys database-password, redis-password and cookie-secret. Default: <name>-credentials, which the operator generates once (or a pipeline creates).',
      }),
    ),
    database: Type.Optional(
      Type.Object(
        {
          image: image('database'),
          priorityClassName: priorityClassName('database'),
          replicas: Type.Optional(
            Type.Integer({
              default: 1,
              description: 'Always 1: PostgreSQL runs as a single instance (no replication).',
              'x-kubernetes-validations': celOf([DATABASE_REPLICAS_RULE]),
            }),
          ),
          resources: resources('database'),
          storage: Type.Optional(
            Type.Object(
              {
                size: quantity(`Size of the data volume; immutable. Default: ${DATABASE.storage}.`, DATABASE.storage),
                storageClassName: Type.Optional(
                  Type.String({
                    minLength: 1,
                    maxLength: 253,
                    pattern: DNS1123_SUBDOMAIN,
                    description: "StorageClass of the data volume; immutable. Default: the cluster's default class.",
                  }),
                ),
                retainOnDelete: Type.Optional(
                  Type.Boolean({
                    default: true,
                    description: 'Keep the data volume (PersistentVolumeClaim) when the SecureVote is deleted. Default: true.',
                  }),
                ),
              },
              {
                default: {},
                description: "The database's persistent volume.",
                additionalProperties: false,
                'x-kubernetes-validations': celOf(STORAGE_RULES),
              },
            ),
          ),
        },
        { default: {}, description: 'PostgreSQL, the votes of record: a StatefulSet with one pod and a volume.', additionalProperties: false },
      ),
    ),
    backup: Type.Optional(
      Type.Object(
        {
          schedule: Type.Optional(
            Type.String({
              minLength: 9,
              maxLength: 128,
              pattern: CRON_PATTERN,
              description:
                'When scheduled backups run: a cron schedule of five fields in UTC (minute hour day-of-month month day-of-week), e.g. "0 3 * * *". Unset: none (a SecureVoteBackup still takes one on demand).',
            }),
          ),
          retain: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 100,
              default: BACKUP.retain,
              description: `How many verified backups of this instance are kept, newest first (scheduled and on-demand alike; a failed backup never counts nor evicts one). Default: ${BACKUP.retain}.`,
            }),
          ),
          volume: Type.Optional(
            Type.Object(
              {
                existingClaim: Type.Optional(
                  Type.String({
                    minLength: 1,
                    maxLength: 253,
                    pattern: DNS1123_SUBDOMAIN,
                    description: 'An existing PersistentVolumeClaim in the same namespace to write backups to. Unset: the operator creates <name>-backups.',
                  }),
                ),
                size: quantity(`Size of the claim the operator creates (unused with existingClaim). Default: ${BACKUP.volumeSize}.`, BACKUP.volumeSize),
                storageClassName: Type.Optional(
                  Type.String({
                    minLength: 1,
                    maxLength: 253,
                    pattern: DNS1123_SUBDOMAIN,
                    description: "StorageClass of the claim the operator creates. Default: the cluster's default class.",
                  }),
                ),
              },
              {
                default: {},
                description:
                  'Where backups are written. The claim the operator creates is not owned by the SecureVote: it outlives it, so a new SecureVote can restore from it (delete it with kubectl when its backups are no longer wanted).',
                additionalProperties: false,
              },
            ),
          ),
        },
        {
          default: {},
          description: 'Backups of the votes: each a pg_dump of one consistent snapshot, restored into a throwaway database and checked before it counts.',
          additionalProperties: false,
        },
      ),
    ),
    restore: Type.Optional(
      Type.Object(
        {
          backup: Type.String({
            minLength: 1,
            maxLength: 253,
            pattern: DNS1123_SUBDOMAIN,
            description: 'The SecureVoteBackup (same namespace, verified) the new database starts from.',
          }),
        },
        {
          description:
            'Start the database from a backup: only when the SecureVote is created. The database starts only once the backup is restored and its votes checked; no backend serves before.',
          additionalProperties: false,
        },
      ),
    ),
    monitoring: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(
            Type.Boolean({
              default: false,
              description:
                'Serve metrics from every component (exporters beside PostgreSQL, Redis and nginx), let the scraper namespace reach the metrics ports, and, where the cluster serves monitoring.coreos.com/v1, create a PodMonitor, a PrometheusRule and a Grafana dashboard. Turning it on or off restarts every pod once. Default: false.',
            }),
          ),
          image: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 512,
              description: `Container image of the exporters beside PostgreSQL, Redis and nginx. Unset: the running operator's default for its release (this one: ${defaultImage('exporters')}); set it to pin an image.`,
            }),
          ),
          scraperNamespaceLabels: labels(
            MONITORING_LABEL_RULES[0]!,
            `The labels of the namespace(s) whose pods may reach the metrics ports (and no other port). Unset: the namespace named ${METRICS.scraperNamespace} (kubernetes.io/metadata.name: ${METRICS.scraperNamespace}).`,
          ),
          labels: labels(
            MONITORING_LABEL_RULES[1]!,
            "Labels added to the PodMonitor and the PrometheusRule, for a Prometheus whose selectors ask for some (e.g. release: kube-prometheus-stack). Unset: none.",
          ),
        },
        { default: {}, description: 'Metrics, alerts and a dashboard for Prometheus and Grafana.', additionalProperties: false },
      ),
    ),
    cache: Type.Optional(
      Type.Object(
        { image: image('cache'), priorityClassName: priorityClassName('cache'), resources: resources('cache') },
        {
          default: {},
          description: 'Redis, the results cache: one pod (no replication), password from the Secret, maxmemory sized to its limit.',
          additionalProperties: false,
        },
      ),
    ),
    backend: Type.Optional(
      Type.Object(
        { image: image('backend'), replicas: replicas('backend'), autoscaling: autoscaling('backend'), resources: resources('backend') },
        { default: {}, description: 'The vote API (port 5000); its image also runs the schema migration Job.', additionalProperties: false },
      ),
    ),
    frontend: Type.Optional(
      Type.Object(
        { image: image('frontend'), replicas: replicas('frontend'), autoscaling: autoscaling('frontend'), resources: resources('frontend') },
        { default: {}, description: 'The vote page (port 3000).', additionalProperties: false },
      ),
    ),
    proxy: Type.Optional(
      Type.Object(
        {
          image: image('proxy'),
          replicas: replicas('proxy'),
          resources: resources('proxy'),
          serviceType: Type.Optional(
            enumOf(SERVICE_TYPES, { default: 'ClusterIP', description: "Type of the proxy's Service, the single entry. Default: ClusterIP." }),
          ),
        },
        { default: {}, description: 'nginx, the single entry (port 8080): / to the frontend, /api/ and /health to the backend.', additionalProperties: false },
      ),
    ),
  },
  {
    description: 'The desired SecureVote stack. Every field has a default; an empty spec deploys the seed stack.',
    additionalProperties: false,
    'x-kubernetes-validations': celOf([RESTORE_RULE]),
  },
);

/** The spec as written by a user (every defaulted field optional). */
export type SecureVoteSpecInput = Static<typeof SecureVoteSpecSchema>;

type Genuine = 'existingSecret' | 'storageClassName' | 'schedule' | 'existingClaim' | 'restore' | 'scraperNamespaceLabels' | 'labels' | 'autoscaling' | 'priorityClassName';
/** Every defaulted field present; the genuinely optional ones stay optional. */
export type Defaulted<T> = T extends readonly (infer U)[]
  ? Defaulted<U>[]
  : T extends object
    ? { [K in Exclude<keyof T, Genuine>]-?: Defaulted<NonNullable<T[K]>> } & { [K in Extract<keyof T, Genuine>]?: T[K] }
    : T;

/** The spec after defaulting: what the stack construct renders. */
export type SecureVoteSpec = Defaulted<SecureVoteSpecInput>;
export type VoteOption = { readonly id: string; readonly label: string };
export type LogLevel = (typeof LOG_LEVELS)[number];
export type ServiceType = (typeof SERVICE_TYPES)[number];
export type Quantity = string | number;
export type ResourcesSpec = SecureVoteSpec['backend']['resources'];
export type AutoscalingSpec = NonNullable<SecureVoteSpec['backend']['autoscaling']>;

// ---- status ----------------------------------------------------------------

export const CONDITION_TYPES = ['Ready', 'Progressing', 'Degraded', 'BackedUp', 'Monitored'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];
export const PHASES = ['Pending', 'Progressing', 'Ready', 'Degraded'] as const;
export type Phase = (typeof PHASES)[number];

if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => !Number.isNaN(Date.parse(v)));

export const SecureVoteConditionSchema = Type.Object(
  {
    type: enumOf(CONDITION_TYPES, {
      description:
        'Ready: every component has its pods ready. Progressing: a change is rolling out. Degraded: the last reconcile failed. BackedUp: the last backup was verified (False: it failed; absent: none yet). Monitored: the PodMonitor and PrometheusRule exist (False: skipped, and why; absent: spec.monitoring is off).',
    }),
    status: enumOf(['True', 'False', 'Unknown'] as const, { description: 'True, False or Unknown.' }),
    reason: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$', description: 'Machine-readable CamelCase reason.' }),
    message: Type.String({ maxLength: 32768, description: 'Human-readable details.' }),
    observedGeneration: Type.Integer({ minimum: 0, description: 'The metadata.generation this condition was computed from.' }),
    lastTransitionTime: Type.String({ format: 'date-time', description: 'When the status last changed.' }),
  },
  { description: 'One condition of the SecureVote.', additionalProperties: false },
);
export type SecureVoteCondition = Static<typeof SecureVoteConditionSchema>;

const componentStatus = (c: Component) =>
  Type.Optional(
    Type.Object(
      {
        ready: Type.Integer({ minimum: 0, description: `Ready ${c} pods.` }),
        desired: Type.Integer({ minimum: 0, description: `Desired ${c} pods.` }),
        image: Type.Optional(Type.String({ maxLength: 512, description: `The image the ${c} workload runs (its live pod template).` })),
        pendingTemplate: Type.Optional(
          Type.String({
            maxLength: 256,
            description: `Set when this operator renders the ${c} differently from what runs, and waits for the next change of spec.${c} to roll it (an operator upgrade alone never restarts PostgreSQL or Redis).`,
          }),
        ),
      },
      { description: `Pods of the ${c}.`, additionalProperties: false },
    ),
  );

export const SecureVoteStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0, description: 'The metadata.generation last reconciled.' })),
    operatorVersion: Type.Optional(Type.String({ maxLength: 64, description: 'The version of the operator that last reconciled this resource.' })),
    phase: Type.Optional(enumOf(PHASES, { description: 'Pending, Progressing, Ready or Degraded: a summary of the conditions.' })),
    url: Type.Optional(Type.String({ maxLength: 2048, description: 'Where the vote page answers (the proxy Service).' })),
    conditions: Type.Optional(
      Type.Array(SecureVoteConditionSchema, {
        maxItems: 8,
        description: 'Ready, Progressing and Degraded, with reasons and observedGeneration.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
    components: Type.Optional(
      Type.Object(Object.fromEntries(COMPONENTS.map((c) => [c, componentStatus(c)])) as Record<Component, ReturnType<typeof componentStatus>>, {
        description: 'Ready and desired pods per component.',
        additionalProperties: false,
      }),
    ),
    migration: Type.Optional(
      Type.Object(
        {
          job: Type.String({ maxLength: 253, description: 'The schema migration Job of the current backend image.' }),
          attempts: Type.Integer({ minimum: 0, description: 'Times that Job failed and was re-created (the retry backoff doubles with each, from 30 s up to 5 min).' }),
          lastFailure: Type.Optional(Type.String({ maxLength: 4096, description: "The last failure's message (the Job's Failed condition)." })),
        },
        { description: 'The schema migration: which Job, and its failed attempts.', additionalProperties: false },
      ),
    ),
    backup: Type.Optional(
      Type.Object(
        {
          lastSuccessful: Type.Optional(Type.String({ maxLength: 253, description: 'The newest verified SecureVoteBackup.' })),
          lastSuccessfulTime: Type.Optional(Type.String({ format: 'date-time', description: 'When it completed.' })),
          lastFailed: Type.Optional(Type.String({ maxLength: 253, description: 'The newest failed SecureVoteBackup, if newer than the last successful one.' })),
          nextScheduled: Type.Optional(Type.String({ format: 'date-time', description: 'When spec.backup.schedule next takes one.' })),
          claim: Type.Optional(Type.String({ maxLength: 253, description: 'The PersistentVolumeClaim backups are written to.' })),
        },
        { description: "The instance's backups: the last good one, the last failure since, the next scheduled.", additionalProperties: false },
      ),
    ),
    restore: Type.Optional(
      Type.Object(
        {
          backup: Type.String({ maxLength: 253, description: 'The SecureVoteBackup the database was started from.' }),
          votes: Type.Integer({ minimum: 0, description: 'The votes it held.' }),
        },
        { description: 'The backup this instance was restored from.', additionalProperties: false },
      ),
    ),
  },
  { description: 'What the operator observed.', additionalProperties: false },
);
export type SecureVoteStatus = Static<typeof SecureVoteStatusSchema>;
export type ComponentStatus = { ready: number; desired: number; image?: string };

// ---- parsing -----------------------------------------------------------------

export type ParseResult = { ok: true; spec: SecureVoteSpec } | { ok: false; errors: string[] };

/** The spec's defaults (the same values as the CRD's `default`s; a test proves it). */
export function defaultSpec(): SecureVoteSpec {
  const r = parseSpec({});
  if (!r.ok) throw new Error(`the default spec is invalid: ${r.errors.join('; ')}`);
  return r.spec;
}

function fieldPath(pointer: string): string {
  return (
    'spec' +
    pointer
      .split('/')
      .slice(1)
      .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`))
      .join('')
  );
}

/** The cross-field rules of the CRD (CEL), checked the same way in TypeScript. */
export function ruleErrors(spec: SecureVoteSpec): string[] {
  const errors: string[] = [];
  for (const c of COMPONENTS) {
    const r = spec[c].resources;
    for (const k of ['cpu', 'memory'] as const) {
      if (quantityValue(r.limits[k]) < quantityValue(r.requests[k])) {
        errors.push(limitRule(c, k).message);
      }
    }
  }
  const ids = spec.options.map((o) => o.id);
  const labels = spec.options.map((o) => o.label);
  if (new Set(ids).size !== ids.length) errors.push(OPTION_RULES[0]!.message);
  if (new Set(labels).size !== labels.length) errors.push(OPTION_RULES[1]!.message);
  if (spec.database.replicas !== 1) errors.push(DATABASE_REPLICAS_RULE.message);
  for (const c of AUTOSCALED) {
    const a = spec[c].autoscaling;
    if (a && a.minReplicas > a.maxReplicas) errors.push(autoscalingRule(c).message);
  }
  const labelKey = new RegExp(LABEL_KEY);
  if (!Object.keys(spec.monitoring.scraperNamespaceLabels ?? {}).every((k) => labelKey.test(k))) errors.push(MONITORING_LABEL_RULES[0]!.message);
  if (!Object.keys(spec.monitoring.labels ?? {}).every((k) => labelKey.test(k))) errors.push(MONITORING_LABEL_RULES[1]!.message);
  return errors;
}

/** The transition rules of the CRD (immutable fields), for an update from `old` to `next`. */
export function transitionErrors(old: SecureVoteSpec, next: SecureVoteSpec): string[] {
  const errors: string[] = [];
  if (old.database.storage.storageClassName !== next.database.storage.storageClassName) errors.push(STORAGE_RULES[0]!.message);
  if (String(old.database.storage.size) !== String(next.database.storage.size)) errors.push(STORAGE_RULES[1]!.message);
  if (next.restore !== undefined && old.restore?.backup !== next.restore.backup) errors.push(RESTORE_RULE.message);
  return errors;
}

/**
 * Parse a SecureVote spec as the API server would: prune unknown fields,
 * apply the defaults, check types and bounds, then the cross-field rules.
 * Images not pinned come from `images` (this release's table).
 * Errors name the field (`spec.backend.replicas: ...`).
 */
export function parseSpec(input: unknown, images: ImageTable = IMAGE_TABLE): ParseResult {
  if (input !== undefined && input !== null && (typeof input !== 'object' || Array.isArray(input))) {
    return { ok: false, errors: ['spec: must be an object'] };
  }
  const value = Value.Clone(input ?? {});
  Value.Clean(SecureVoteSpecSchema, value);
  const defaulted = Value.Default(SecureVoteSpecSchema, value);
  const errors = [...Value.Errors(SecureVoteSpecSchema, defaulted)].map((e) => {
    const intOrString = (e.schema as Record<string, unknown>)['x-kubernetes-int-or-string'] === true;
    const message = intOrString ? 'must be a quantity such as 250m, 0.5, 512Mi or 1Gi' : e.message.charAt(0).toLowerCase() + e.message.slice(1);
    return `${fieldPath(e.path)}: ${message}`;
  });
  if (errors.length > 0) return { ok: false, errors: [...new Set(errors)] };
  const spec = defaulted as SecureVoteSpec;
  // Images: the spec's pin, else this release's default (see charts/images.ts).
  for (const c of COMPONENTS) spec[c].image = resolveImage(c, spec[c].image, images);
  spec.monitoring.image = resolveNamed('exporters', spec.monitoring.image, images);
  const rules = ruleErrors(spec);
  if (rules.length > 0) return { ok: false, errors: rules };
  const schedule = scheduleError(spec.backup.schedule);
  if (schedule) return { ok: false, errors: [schedule] };
  return { ok: true, spec };
}

/** What the CRD's pattern can't say of a schedule (a minute of 61, a month of 13), from the parser that computes the runs. */
export function scheduleError(schedule: string | undefined): string | undefined {
  if (schedule === undefined) return undefined;
  try {
    parseCron(schedule);
    return undefined;
  } catch (err) {
    if (err instanceof CronError) return `spec.backup.schedule: ${err.message}`;
    throw err;
  }
}

/** Every CEL rule of the spec, for the tests and the README. */
export const SPEC_RULES: readonly SpecRule[] = [
  ...COMPONENTS.flatMap(resourceRules),
  ...AUTOSCALED.map(autoscalingRule),
  ...OPTION_RULES,
  DATABASE_REPLICAS_RULE,
  ...STORAGE_RULES,
  RESTORE_RULE,
  ...MONITORING_LABEL_RULES,
];
