/**
 * SecureVoteStack: the whole SecureVote of one spec, as a construct. The
 * `cdk8s synth` chart (charts/main.ts) and the operator (through
 * charts/render.ts) both build this same construct, so the manifests and
 * the reconciled objects cannot drift apart.
 */
import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { Construct } from 'constructs';
import { Backend } from './backend.ts';
import { Cache } from './cache.ts';
import { Database } from './database.ts';
import { Frontend } from './frontend.ts';
import type { InstanceIdentity } from './labels.ts';
import { Migration } from './migration.ts';
import { childNames, type ChildNames, type RestoreSource, type StackContext } from './names.ts';
import { BackupScripts } from './backup.ts';
import { Monitoring } from './monitoring.ts';
import { NetworkPolicies } from './network-policies.ts';
import { Proxy } from './proxy.ts';
import {
  IMAGE_TAG,
  INSTANCE_NAME_MAX_LENGTH,
  INSTANCE_NAME_PATTERN,
  parseSpec,
  type SecureVoteSpec,
  type SecureVoteSpecInput,
} from './spec.ts';

export interface SecureVoteStackProps {
  /**
   * The instance name (the SecureVote's metadata.name): every child's name
   * derives from it. A DNS-1035 label of at most 30 characters.
   */
  readonly name: string;
  /**
   * The SecureVote spec; missing fields take their defaults (a defaulted spec
   * passes through unchanged).
   * @default {} (the seed's stack)
   */
  readonly spec?: SecureVoteSpecInput | SecureVoteSpec;
  /**
   * Namespace of every object.
   * @default the chart's namespace (none: kubectl's current namespace)
   */
  readonly namespace?: string;
  /**
   * app.kubernetes.io/managed-by.
   * @default 'cdk8s'
   */
  readonly managedBy?: string;
  /**
   * app.kubernetes.io/version.
   * @default the project's version (package.json)
   */
  readonly version?: string;
  /**
   * The backup spec.restore names, resolved (the operator reads it from the
   * SecureVoteBackup's status): required with spec.restore, since the
   * database's restore step needs the file and what the backup recorded.
   */
  readonly restore?: RestoreSource;
}

const NAME = new RegExp(INSTANCE_NAME_PATTERN);
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function check(ok: boolean, prop: string, value: unknown, rule: string): void {
  if (!ok) throw new Error(`SecureVoteStackProps.${prop} ${rule}, got ${JSON.stringify(value)}`);
}

export class SecureVoteStack extends Construct {
  /** The instance name. */
  readonly name: string;
  /** The defaulted spec the stack was built from. */
  readonly spec: SecureVoteSpec;
  /** The Secret every pod reads its credentials from (referenced, never created here). */
  readonly secretName: string;
  readonly names: ChildNames;
  readonly database: Database;
  readonly cache: Cache;
  readonly backend: Backend;
  readonly migration: Migration;
  readonly frontend: Frontend;
  readonly proxy: Proxy;
  readonly networkPolicies: NetworkPolicies;
  readonly backupScripts: BackupScripts;
  /** The PodMonitor, PrometheusRule and dashboard, when spec.monitoring.enabled. */
  readonly monitoring?: Monitoring;

  constructor(scope: Construct, id: string, props: SecureVoteStackProps) {
    super(scope, id);
    const managedBy = props.managedBy ?? 'cdk8s';
    const version = props.version ?? IMAGE_TAG;
    check(
      typeof props.name === 'string' && props.name.length <= INSTANCE_NAME_MAX_LENGTH && NAME.test(props.name),
      'name',
      props.name,
      `must be a DNS-1035 label (lowercase letters, digits and dashes, starting with a letter) of at most ${INSTANCE_NAME_MAX_LENGTH} characters`,
    );
    if (props.namespace !== undefined) {
      check(props.namespace.length <= 63 && DNS1123_LABEL.test(props.namespace), 'namespace', props.namespace, 'must be a DNS-1123 label');
    }
    check(managedBy.length <= 63 && LABEL_VALUE.test(managedBy) && managedBy !== '', 'managedBy', managedBy, 'must be a non-empty label value');
    check(version.length <= 63 && LABEL_VALUE.test(version) && version !== '', 'version', version, 'must be a non-empty label value');
    const parsed = parseSpec(props.spec ?? {});
    if (!parsed.ok) throw new Error(`SecureVoteStackProps.spec is invalid: ${parsed.errors.join('; ')}`);

    this.name = props.name;
    this.spec = parsed.spec;
    this.names = childNames(props.name);
    this.secretName = this.spec.existingSecret ?? this.names.credentials;
    const identity: InstanceIdentity = { name: props.name, version, managedBy };
    const wanted = this.spec.restore?.backup;
    check(
      props.restore === undefined ? wanted === undefined : props.restore.backup === wanted,
      'restore',
      props.restore?.backup,
      wanted === undefined ? 'must be unset without spec.restore' : `must be the resolved SecureVoteBackup ${wanted} (spec.restore.backup)`,
    );
    const context: StackContext = { identity, spec: this.spec, secretName: this.secretName, names: this.names, ...(props.restore ? { restore: props.restore } : {}) };

    this.database = new Database(this, 'database', { context });
    this.cache = new Cache(this, 'cache', { context });
    this.backend = new Backend(this, 'backend', { context });
    this.migration = new Migration(this, 'migration', { context });
    this.frontend = new Frontend(this, 'frontend', { context });
    this.proxy = new Proxy(this, 'proxy', { context });
    this.networkPolicies = new NetworkPolicies(this, 'network-policies', { context });
    this.backupScripts = new BackupScripts(this, 'backup', { context });
    if (this.spec.monitoring.enabled) {
      const namespace = props.namespace ?? Chart.of(this).namespace;
      this.monitoring = new Monitoring(this, 'monitoring', { context, ...(namespace !== undefined ? { namespace } : {}) });
    }

    if (props.namespace !== undefined) {
      for (const c of this.node.findAll()) {
        if (c instanceof ApiObject) c.addJsonPatch(JsonPatch.add('/metadata/namespace', props.namespace));
      }
    }
  }
}
