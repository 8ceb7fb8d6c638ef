import { Type, type Static } from '@sinclair/typebox';

/**
 * The whole configuration, parsed once at start (see ./load.ts) and frozen.
 * Units are part of the names (`…Ms`, `…Bytes`). Every object rejects unknown keys.
 */
const strict = { additionalProperties: false } as const;

export const Role = Type.Union([Type.Literal('ingest'), Type.Literal('read'), Type.Literal('admin')]);
export type Role = Static<typeof Role>;

export const TenantScope = Type.Object(
  {
    reseller: Type.Optional(Type.String({ minLength: 1 })),
    domain: Type.Optional(Type.String({ minLength: 1 })),
  },
  strict,
);
export type TenantScope = Static<typeof TenantScope>;

const HttpConfig = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, default: 1_048_576 }),
    maxBatchEvents: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
    /** JSON bodies nesting deeper than this are refused (400) before anything recursive sees them. */
    maxJsonDepth: Type.Integer({ minimum: 4, maximum: 1000, default: 400 }),
    /** A request (headers and body) not fully received within this time is answered 408 and closed. */
    requestTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
    /** Request headers not fully received within this time: 408 and closed (Slowloris). At most requestTimeoutMs. */
    headersTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
    /** A socket with no traffic either way for this long is closed; 0 disables. Streams (SSE) send heartbeats well within it. */
    connectionTimeoutMs: Type.Integer({ minimum: 0, default: 120_000 }),
    /**
     * Every request that reads Redis answers within this time, 503 REDIS_UNAVAILABLE otherwise (a
     * stalled Redis must not hold API callers). Intake is exempt: it spools after redis.commandTimeoutMs.
     */
    redisDeadlineMs: Type.Integer({ minimum: 100, default: 2000 }),
    /** An idle keep-alive connection is closed after this long (above common load balancers' 60 s). */
    keepAliveTimeoutMs: Type.Integer({ minimum: 100, default: 72_000 }),
  },
  { ...strict, default: {} },
);

/** `host:port`, IPv6 hosts in brackets. */
const NodeAddress = Type.String({ pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:\\[\\]]+):[0-9]{1,5}$' });

const SentinelConfig = Type.Object(
  {
    /** The master name the Sentinels monitor (`sentinel monitor <name> …`). */
    name: Type.String({ minLength: 1 }),
    sentinels: Type.Array(NodeAddress, { minItems: 1 }),
    /** The Redis (master and replicas) password. */
    password: Type.Optional(Type.String({ minLength: 1 })),
    /** The Sentinels' own password (`requirepass` of the Sentinels), when they have one. */
    sentinelPassword: Type.Optional(Type.String({ minLength: 1 })),
  },
  strict,
);

const ClusterConfig = Type.Object(
  {
    /** Some nodes of the cluster; the rest is discovered. */
    nodes: Type.Array(NodeAddress, { minItems: 1 }),
    password: Type.Optional(Type.String({ minLength: 1 })),
  },
  strict,
);

/** At most one of `url`, `sentinel`, `cluster` (checked in ./load.ts); none: a local Redis. */
const RedisConfig = Type.Object(
  {
    /** One node. When no topology is set, the hub uses 127.0.0.1:<localPort> if it answers, else launches its own redis-server there. */
    url: Type.Optional(Type.String({ pattern: '^rediss?://' })),
    /** A master watched by Sentinels: failover to a replica without a restart (docs/deployment.md). */
    sentinel: Type.Optional(SentinelConfig),
    /** A Redis Cluster (docs/deployment.md). */
    cluster: Type.Optional(ClusterConfig),
    /**
     * Intake answers 202 only after this many replicas acknowledged the events (WAIT); when fewer
     * do in time, the events also go to the spool. 0 for one node; 1 for Sentinel and Cluster.
     */
    minReplicasAcked: Type.Integer({ minimum: 0, maximum: 16, default: 0 }),
    /**
     * How long WAIT waits for `minReplicasAcked` replicas before the events are spooled as well.
     * A replica answers in about a network round trip; the margin covers a busy replica.
     */
    replicaAckTimeoutMs: Type.Integer({ minimum: 1, default: 500 }),
    /** Intake waits this long for Redis before spooling the events instead. */
    commandTimeoutMs: Type.Integer({ minimum: 10, default: 1000 }),
    /** Launch a local redis-server (AOF on, files in dataDir/redis) when no Redis is configured or reachable. */
    launchLocal: Type.Boolean({ default: true }),
    localPort: Type.Integer({ minimum: 0, maximum: 65535, default: 6379 }),
  },
  { ...strict, default: {} },
);

const ApiToken = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    token: Type.String({ minLength: 16 }),
    roles: Type.Array(Role, { minItems: 1, uniqueItems: true }),
    scope: Type.Optional(TenantScope),
  },
  strict,
);
export type ApiToken = Static<typeof ApiToken>;

const AuthConfig = Type.Object(
  {
    /** One token holding every role, for simple setups (SWITCHBOARD_API_TOKEN). */
    apiToken: Type.Optional(Type.String({ minLength: 16 })),
    tokens: Type.Array(ApiToken, { default: [] }),
  },
  { ...strict, default: {} },
);

const EventLogConfig = Type.Object(
  {
    /** Entries older than this are trimmed from the event log. */
    maxAgeMs: Type.Integer({ minimum: 60_000, default: 7 * 24 * 3_600_000 }),
    /** Memory safety valve: the log keeps at most about this many entries. */
    maxLength: Type.Integer({ minimum: 1000, default: 1_000_000 }),
    trimIntervalMs: Type.Integer({ minimum: 100, default: 60_000 }),
    /** A re-submitted event id inside this window is accepted and not delivered again. */
    dedupWindowMs: Type.Integer({ minimum: 1000, default: 24 * 3_600_000 }),
  },
  { ...strict, default: {} },
);

/** Integrators: consumer groups on the critical-event stream, legacy lists, retention (docs/integrators.md). */
const IntegratorsConfig = Type.Object(
  {
    /** A CDR unacknowledged this long goes to a live sibling worker (claimed by its consumeCdrs loop). */
    claimIdleMs: Type.Integer({ minimum: 10, default: 30_000 }),
    /** After this many deliveries an idle, unacknowledged CDR moves to the dead-letter stream. */
    maxDeliveries: Type.Integer({ minimum: 1, default: 5 }),
    /** How often the hub moves poison CDRs to dead-letter streams. */
    sweepIntervalMs: Type.Integer({ minimum: 10, default: 5000 }),
    /** How often the ack-aware janitor trims the stream. */
    trimIntervalMs: Type.Integer({ minimum: 10, default: 1000 }),
    /** CDRs every group has acknowledged stay this long for replay (unless the stream nears maxLength). */
    replayRetentionMs: Type.Integer({ minimum: 0, default: 24 * 3_600_000 }),
    /** Hard memory cap of the stream, in entries: beyond it the oldest CDRs are dropped and counted as lost. */
    maxLength: Type.Integer({ minimum: 10, default: 1_000_000 }),
    /** Unacknowledged entries above this share of maxLength raise the alarm (metric, log, /readyz warning). */
    alarmRatio: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.8 }),
    /** Dead-letter streams keep about this many entries each. */
    deadLetterMaxLength: Type.Integer({ minimum: 10, default: 100_000 }),
    /** /readyz warns when a legacy list holds more than this many undelivered CDRs (lists are never trimmed). */
    listAlarmLength: Type.Integer({ minimum: 1, default: 100_000 }),
  },
  { ...strict, default: {} },
);

const SpoolConfig = Type.Object(
  {
    /** Upper bound of the on-disk spool, pages in use plus the WAL, whatever the file's history; beyond it intake answers 503 SPOOL_FULL. */
    maxBytes: Type.Integer({ minimum: 65_536, default: 1024 ** 3 }),
    /** Events per Redis call while the spool drains (and per spool row). */
    drainBatchEvents: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }),
    drainRetryMs: Type.Integer({ minimum: 10, default: 500 }),
  },
  { ...strict, default: {} },
);

const EnigmaProfile = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    prefix: Type.String({ minLength: 1, default: 'enigma' }),
    /** `{prefix}` and `{agent}` are substituted. The overview page's singular `agent` also occurs. */
    agentChannel: Type.String({ default: '{prefix}:notifications:agents:{agent}' }),
    campaignChannel: Type.String({ default: '{prefix}:notifications:campaigns:{campaign}' }),
    cdrList: Type.String({ default: '{prefix}:notifications:campaigns' }),
    /** Which cause the CDR's `end_code` carries: Q.850 (Dispositions page) or SIP (CDR page). */
    endCode: Type.Union([Type.Literal('q850'), Type.Literal('sip')], { default: 'q850' }),
  },
  { ...strict, default: {} },
);

const NewfiesProfile = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    channel: Type.String({ minLength: 1, default: 'callcenter_events' }),
    /** mod_callcenter's instance id, sent as CC_Agent_System. */
    agentSystem: Type.String({ default: 'single_box' }),
  },
  { ...strict, default: {} },
);

const ProfilesConfig = Type.Object(
  {
    enigma: EnigmaProfile,
    newfies: NewfiesProfile,
  },
  { ...strict, default: {} },
);

const CtiUser = Type.Object(
  {
    username: Type.String({ minLength: 1, pattern: '^[^:]+$' }),
    /** Hashed with scrypt at load; the plain text is not kept. */
    password: Type.Optional(Type.String({ minLength: 1 })),
    /** `scrypt$N$r$p$<salt base64>$<key base64>` (see docs/cti.md). */
    passwordHash: Type.Optional(Type.String({ pattern: '^scrypt\\$' })),
  },
  strict,
);

/** Numbers (quote them in YAML to keep leading zeros) or "first-last" ranges. */
const CtiNumbers = Type.Array(Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 0 })]), { minItems: 1 });

const CtiPool = Type.Union([
  CtiNumbers,
  Type.Object({ numbers: CtiNumbers, ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })) }, strict),
]);

const CtiConfig = Type.Object(
  {
    users: Type.Array(CtiUser, { default: [] }),
    /** One pool of DNIS numbers per target system; the CTI routes exist only when a pool is configured. */
    pools: Type.Record(Type.String(), CtiPool, { default: {} }),
    /** The pool a POST without `pool` uses; optional when there is only one pool. */
    defaultPool: Type.Optional(Type.String({ minLength: 1 })),
    /** How long an entry (and its DNIS lease) lives unless fetched with DELETE first. */
    ttlSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
    /** Size cap of a stored `value`, as JSON text. */
    maxValueBytes: Type.Integer({ minimum: 16, maximum: 1_048_576, default: 4096 }),
    /** /readyz warns when a pool has more of its numbers in use than this. */
    utilisationWarningPercent: Type.Number({ minimum: 0, maximum: 100, default: 80 }),
    /** Verified credentials remembered, least recently used dropped first; failed checks never evict them. */
    verifiedCacheSize: Type.Integer({ minimum: 1, default: 1024 }),
    /** Password checks (scrypt, on libuv's 4-thread pool) running at once in total; beyond it 429. */
    maxConcurrentChecks: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
    /** Password checks running at once for one client address; beyond it 429. */
    maxConcurrentChecksPerAddress: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
    /** Password checks started per second in total (each costs a core for tens of ms); beyond it 429. Known credentials are not checked again. */
    maxChecksPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 1000, default: 4 }),
    /** cti.data_stored / cti.data_fetched in the event log; they carry the caller's ANI (personal data). */
    recordEvents: Type.Boolean({ default: true }),
  },
  { ...strict, default: {} },
);

/** Event subscriptions: NetSapiens-style webhooks (docs/webhooks.md, docs/contracts/netsapiens-subscriptions.md). Durations in ms. */
const WebhooksConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /** Private, loopback and link-local targets are refused unless this is true (tests, on-prem). */
    allowPrivateTargets: Type.Boolean({ default: false }),
    /** This hub's name in the node registry and in `current-active-server`; defaults to the hostname. */
    nodeId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[^:{}\\s]+$' })),
    /** Subscriptions' keys are spread over this many hash-tag slots (Redis Cluster); fixed for a deployment. */
    slots: Type.Integer({ minimum: 1, maximum: 1024, default: 64 }),
    /** A node (heartbeat) or a subscription lease not renewed for this long is gone; renewed every third of it. */
    leaseTtlMs: Type.Integer({ minimum: 300, default: 15_000 }),
    /** A node takes subscriptions only after it has been live this long without a gap (NetSapiens: 60 s). */
    stableAfterMs: Type.Integer({ minimum: 0, default: 60_000 }),
    batchMaxEvents: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    batchLingerMs: Type.Integer({ minimum: 0, default: 100 }),
    /** Matched events buffered per subscription; beyond it the subscription re-reads the log itself. */
    maxPendingEvents: Type.Integer({ minimum: 1, default: 5000 }),
    connectTimeoutMs: Type.Integer({ minimum: 10, default: 5000 }),
    responseTimeoutMs: Type.Integer({ minimum: 10, default: 10_000 }),
    maxResponseBodyBytes: Type.Integer({ minimum: 0, default: 65_536 }),
    connectionsPerOrigin: Type.Integer({ minimum: 1, default: 16 }),
    /** Delay before each retry; Svix's default (5 s … 10 h, ≈27.6 h with the first attempt). */
    retryScheduleMs: Type.Array(Type.Integer({ minimum: 0 }), {
      default: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
    }),
    /** ±fraction of random jitter on every retry delay. */
    retryJitter: Type.Number({ minimum: 0, maximum: 1, default: 0.2 }),
    /** Minimum delay after a timeout or a 429/502/503/504 (Svix's overload penalty). */
    throttleFloorMs: Type.Integer({ minimum: 0, default: 60_000 }),
    /** Consecutive failed attempts that turn a subscription's status to error. */
    errorAfterFailures: Type.Integer({ minimum: 1, default: 4 }),
    /** Clean posting time after which an error status returns to active. */
    cleanIntervalMs: Type.Integer({ minimum: 0, default: 60_000 }),
    /** Consecutive batches that exhaust their retries before the subscription is disabled. */
    disableAfterExhaustedBatches: Type.Integer({ minimum: 1, default: 3 }),
    /** A rotated-out secret keeps signing (beside the new one) for this long. */
    secretRotationGraceMs: Type.Integer({ minimum: 0, default: 24 * 3_600_000 }),
    /** How often a node looks for subscription changes made elsewhere. */
    pollIntervalMs: Type.Integer({ minimum: 10, default: 1000 }),
  },
  { ...strict, default: {} },
);

/** Settings every PBX source shares (src/sources, docs/sources.md). */
const sourceCommon = {
  /** Names the source in events (`source`), logs, /readyz and /metrics. */
  name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
  host: Type.String({ minLength: 1 }),
  /** Tenant stamped on every event from this PBX. */
  scope: Type.Optional(TenantScope),
  connectTimeoutMs: Type.Integer({ minimum: 10, default: 5000 }),
  /** Reconnect backoff: doubles from the initial delay up to the cap, with jitter. */
  reconnectInitialMs: Type.Integer({ minimum: 10, default: 500 }),
  reconnectMaxMs: Type.Integer({ minimum: 10, default: 30_000 }),
  /**
   * `per_call`: one `cdr.created` per call, its legs merged, once the call is over; `per_leg`:
   * the PBX's own records, one per leg (docs/sources.md, "One record per call (FreeSWITCH)", "One record per call (Asterisk)").
   */
  cdr: Type.Union([Type.Literal('per_call'), Type.Literal('per_leg')], { default: 'per_call' }),
  /** After a call's last leg hung up, how long to wait for the PBX's trailing leg records before the call's record is written. */
  cdrSettleMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000 }),
  /** Channel variables carrying the dialler's call id and campaign (Newfies-Dialer's names by default). */
  variables: Type.Object(
    {
      callId: Type.String({ minLength: 1, default: 'callrequest_id' }),
      campaign: Type.String({ minLength: 1, default: 'campaign_id' }),
      contactRef: Type.Optional(Type.String({ minLength: 1 })),
    },
    { ...strict, default: {} },
  ),
};
/** No line breaks: credentials and names are written into the PBX protocol's lines. */
const Credential = (defaultValue?: string) =>
  Type.String({ minLength: 1, pattern: '^[^\\r\\n]+$', ...(defaultValue ? { default: defaultValue } : {}) });

export const FreeswitchSourceConfig = Type.Object(
  {
    type: Type.Literal('freeswitch'),
    ...sourceCommon,
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 8021 }),
    /** The Event Socket password (event_socket.conf.xml); FreeSWITCH ships with ClueCon. */
    password: Credential('ClueCon'),
    format: Type.Union([Type.Literal('json'), Type.Literal('plain')], { default: 'json' }),
    events: Type.Array(Type.String({ minLength: 1, pattern: '^[^\\r\\n]+$' }), {
      minItems: 1,
      default: ['CUSTOM', 'callcenter::info', 'CHANNEL_HANGUP_COMPLETE'],
    }),
    /**
     * Report a jump in Event-Sequence as lost events. FreeSWITCH numbers every event it fires, so
     * this is only meaningful when subscribed to ALL; default: on exactly then.
     */
    detectSequenceGaps: Type.Optional(Type.Boolean()),
  },
  strict,
);

export const AsteriskSourceConfig = Type.Object(
  {
    type: Type.Literal('asterisk'),
    ...sourceCommon,
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 5038 }),
    username: Credential(),
    secret: Credential(),
    authType: Type.Union([Type.Literal('md5'), Type.Literal('plain')], { default: 'md5' }),
    events: Type.String({ minLength: 1, pattern: '^[^\\r\\n]+$', default: 'on' }),
    /** Which way the queued calls go (AMI does not say): the CDR's direction and which party is `number`. */
    direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')], { default: 'inbound' }),
    /** IANA zone of the Asterisk server's clock (cdr_manager times carry no offset). */
    timeZone: Type.String({ minLength: 1, default: 'UTC' }),
  },
  strict,
);

/** GET /v1/stream: Server-Sent Events of the event log (docs/live.md). */
const StreamConfig = Type.Object(
  {
    /** A comment line this often keeps proxies from closing an idle stream. */
    heartbeatMs: Type.Integer({ minimum: 100, default: 15_000 }),
    /** Bytes held for a client that does not read, the batch being written included; beyond it the client is disconnected (it can resume). */
    clientBufferBytes: Type.Integer({ minimum: 4096, default: 1_048_576 }),
    /** Open streams per hub process; beyond it GET /v1/stream answers 503 STREAM_FULL. */
    maxClients: Type.Integer({ minimum: 1, default: 10_000 }),
    /** The `retry:` a browser waits before reconnecting on its own. */
    retryMs: Type.Integer({ minimum: 0, default: 2000 }),
  },
  { ...strict, default: {} },
);

const LiveQueue = Type.Object(
  {
    /** Calls answered within this wait count towards the service level. */
    serviceLevelThresholdMs: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Callers who hang up within this wait are short abandons: counted, and left out of the service level. */
    shortAbandonMs: Type.Optional(Type.Integer({ minimum: 0 })),
    /** The queue's live alerts (docs/live.md, "Alerts"); each is off unless set. */
    alerts: Type.Optional(
      Type.Object(
        {
          /** `service_level_below` while today's service level % is under this. */
          serviceLevelBelowPct: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
          /** `longest_wait_over` while a caller has waited this many seconds or more. */
          longestWaitOverS: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        strict,
      ),
    ),
  },
  strict,
);


/** Live contact-centre state, projected from the event log (docs/live.md). */
const LiveConfig = Type.Object(
  {
    /** Daily counters restart at this local time (HH:MM) in `timeZone`. */
    resetTime: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', default: '00:00' }),
    /** IANA time zone of `resetTime`, e.g. Africa/Johannesburg. */
    timeZone: Type.String({ minLength: 1, default: 'UTC' }),
    serviceLevelThresholdMs: Type.Integer({ minimum: 0, default: 20_000 }),
    shortAbandonMs: Type.Integer({ minimum: 0, default: 5_000 }),
    /**
     * `answered_and_abandoned`: answered within the threshold ÷ (answered + abandoned − short
     * abandons); `answered`: answered within the threshold ÷ answered (abandons left out).
     */
    serviceLevelFormula: Type.Union([Type.Literal('answered_and_abandoned'), Type.Literal('answered')], { default: 'answered_and_abandoned' }),
    /** Per-queue overrides of the two thresholds and the queue's alerts, by queue name. */
    queues: Type.Record(Type.String({ minLength: 1 }), LiveQueue, { default: {} }),
    /** Agents' live alerts (docs/live.md, "Alerts"); each is off unless set. */
    alerts: Type.Object(
      {
        /** `after_call_work_over` once an agent has been in after-call work this many seconds. */
        afterCallWorkOverS: Type.Optional(Type.Integer({ minimum: 1 })),
        /** `not_ready_over` once an agent has been not ready or on a break this many seconds. */
        notReadyOverS: Type.Optional(Type.Integer({ minimum: 1 })),
      },
      { ...strict, default: {} },
    ),
    /** At start the projection replays the log accepted within this window (and what it still keeps). */
    rebuildWindowMs: Type.Integer({ minimum: 0, default: 48 * 3_600_000 }),
    /** CDRs kept for the board's latest-CDR list. */
    latestCdrs: Type.Integer({ minimum: 0, maximum: 1000, default: 50 }),
    /** Calls with no news for this long are dropped from calls in progress and waiting (a lost end event). */
    staleCallMs: Type.Integer({ minimum: 60_000, default: 4 * 3_600_000 }),
    /** Agents held in the live state; beyond it the least recently active one is dropped (counted in /metrics). */
    maxAgents: Type.Integer({ minimum: 1, default: 50_000 }),
    /** Queues held in the live state; beyond it the least recently active one is dropped. */
    maxQueues: Type.Integer({ minimum: 1, default: 50_000 }),
    /** Calls in progress held in the live state; beyond it the least recently active one is dropped. */
    maxCalls: Type.Integer({ minimum: 1, default: 100_000 }),
  },
  { ...strict, default: {} },
);

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data' }),
    /** Namespace of every key Switchboard owns (see src/redis/keys.ts). */
    keyPrefix: Type.String({ minLength: 1, pattern: '^[^{}]+$', default: 'switchboard' }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
      { default: 'info' },
    ),
    shutdownTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
    http: HttpConfig,
    redis: RedisConfig,
    auth: AuthConfig,
    eventLog: EventLogConfig,
    integrators: IntegratorsConfig,
    spool: SpoolConfig,
    profiles: ProfilesConfig,
    cti: CtiConfig,
    webhooks: WebhooksConfig,
    /** PBXs the hub connects out to (src/sources). */
    sources: Type.Array(Type.Union([FreeswitchSourceConfig, AsteriskSourceConfig]), { default: [] }),
    stream: StreamConfig,
    live: LiveConfig,
  },
  strict,
);

export type Config = Static<typeof ConfigSchema>;
export type EnigmaProfileConfig = Static<typeof EnigmaProfile>;
export type NewfiesProfileConfig = Static<typeof NewfiesProfile>;
export type IntegratorsConfig = Static<typeof IntegratorsConfig>;
export type HttpConfig = Static<typeof HttpConfig>;
export type CtiConfig = Static<typeof CtiConfig>;
export type WebhooksConfig = Static<typeof WebhooksConfig>;
export type StreamConfig = Static<typeof StreamConfig>;
export type LiveConfig = Static<typeof LiveConfig>;
export type FreeswitchSourceSettings = Static<typeof FreeswitchSourceConfig>;
export type AsteriskSourceSettings = Static<typeof AsteriskSourceConfig>;
