import { CloneType, Type, type Static } from '@sinclair/typebox';

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

const TlsConfig = Type.Object(
  {
    certFile: Type.String({ minLength: 1, description: "PEM: the server's certificate, optionally followed by its intermediate CAs." }),
    keyFile: Type.String({ minLength: 1, description: 'PEM: its private key, unencrypted.' }),
    caFile: Type.Optional(
      Type.String({ minLength: 1, description: "PEM: intermediate CA certificates sent with the certificate, when certFile holds the server's certificate alone." }),
    ),
  },
  {
    ...strict,
    description: 'HTTPS served by the hub itself instead of HTTP (docs/deployment.md, "HTTPS"): PEM files read at start, and again on SIGHUP without dropping connections.',
  },
);

const HttpConfig = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'The address the HTTP API listens on. A non-loopback address with no token configured is refused at start.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'The HTTP port; 0 picks a free one.' }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, default: 1_048_576, description: 'Request bodies larger than this are refused (413).' }),
    maxBatchEvents: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: 'Events in one POST /v1/events; more are refused (413).' }),
    maxJsonDepth: Type.Integer({ minimum: 4, maximum: 1000, default: 400, description: 'JSON bodies nesting deeper than this are refused (400) before anything recursive sees them.' }),
    requestTimeoutMs: Type.Integer({ minimum: 100, default: 30_000, description: 'A request (headers and body) not fully received within this time is answered 408 and closed.' }),
    headersTimeoutMs: Type.Integer({ minimum: 100, default: 10_000, description: 'Request headers not fully received within this time: 408 and closed (Slowloris). At most requestTimeoutMs.' }),
    connectionTimeoutMs: Type.Integer({ minimum: 0, default: 120_000, description: 'A socket with no traffic either way for this long is closed; 0 disables. Streams (SSE) send heartbeats well within it.' }),
    redisDeadlineMs: Type.Integer({ minimum: 100, default: 2000, description: 'Every request that reads Redis answers within this time, 503 REDIS_UNAVAILABLE otherwise (a stalled Redis must not hold API callers). Intake is exempt: it spools after redis.commandTimeoutMs.' }),
    keepAliveTimeoutMs: Type.Integer({ minimum: 100, default: 72_000, description: "An idle keep-alive connection is closed after this long (above common load balancers' 60 s)." }),
    tls: Type.Optional(TlsConfig),
    trustProxy: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'Reverse proxies (addresses, CIDR ranges, or loopback / linklocal / uniquelocal) whose X-Forwarded-For, -Proto and -Host are believed: the client address (the CTI password-check throttle per address, logs) and scheme come from them. Empty: the socket peer is the client and the headers are ignored.',
    }),
  },
  { ...strict, default: {}, description: 'The HTTP API: where it listens, and the limits every request meets.' },
);

const NodeAddress = Type.String({ pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:\\[\\]]+):[0-9]{1,5}$', description: '`host:port`, IPv6 hosts in brackets.' });

const SentinelConfig = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'The master name the Sentinels monitor (`sentinel monitor <name> …`).' }),
    sentinels: Type.Array(NodeAddress, { minItems: 1, description: 'The Sentinels, as `host:port`.' }),
    password: Type.Optional(Type.String({ minLength: 1, description: 'The Redis (master and replicas) password.' })),
    sentinelPassword: Type.Optional(Type.String({ minLength: 1, description: "The Sentinels' own password (`requirepass` of the Sentinels), when they have one." })),
  },
  { ...strict, description: 'A master watched by Sentinels: failover to a replica without a restart (docs/deployment.md).' },
);

const ClusterConfig = Type.Object(
  {
    nodes: Type.Array(NodeAddress, { minItems: 1, description: 'Some nodes of the cluster; the rest is discovered.' }),
    password: Type.Optional(Type.String({ minLength: 1, description: 'The cluster nodes\' password.' })),
  },
  { ...strict, description: 'A Redis Cluster (docs/deployment.md).' },
);

const RedisConfig = Type.Object(
  {
    url: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'One node. When no topology is set, the hub uses `127.0.0.1:<localPort>` if it answers, else launches its own redis-server there.' })),
    sentinel: Type.Optional(SentinelConfig),
    cluster: Type.Optional(ClusterConfig),
    minReplicasAcked: Type.Integer({ minimum: 0, maximum: 16, default: 0, description: 'Intake answers 202 only after this many replicas acknowledged the events (WAIT); when fewer do in time, the events also go to the spool. 0 for one node; 1 for Sentinel and Cluster.' }),
    replicaAckTimeoutMs: Type.Integer({ minimum: 1, default: 500, description: 'How long WAIT waits for `minReplicasAcked` replicas before the events are spooled as well. A replica answers in about a network round trip; the margin covers a busy replica.' }),
    commandTimeoutMs: Type.Integer({ minimum: 10, default: 1000, description: 'Intake waits this long for Redis before spooling the events instead.' }),
    launchLocal: Type.Boolean({ default: true, description: 'Launch a local redis-server (AOF on, files in dataDir/redis) when no Redis is configured or reachable.' }),
    localPort: Type.Integer({ minimum: 0, maximum: 65535, default: 6379, description: 'The port of the local Redis the hub uses, or launches, when no topology is set.' }),
  },
  { ...strict, default: {}, description: 'At most one of `url`, `sentinel`, `cluster` (checked in ./load.ts); none: a local Redis.' },
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
    apiToken: Type.Optional(Type.String({ minLength: 16, description: 'One token holding every role, for simple setups.' })),
    tokens: Type.Array(ApiToken, { default: [], description: 'Named tokens, each with its roles (`ingest`, `read`, `admin`) and an optional tenant `scope`.' }),
  },
  { ...strict, default: {}, description: 'Who may call the API: tokens and their roles (`ingest`, `read`, `admin`).' },
);

const EventLogConfig = Type.Object(
  {
    maxAgeMs: Type.Integer({ minimum: 60_000, default: 7 * 24 * 3_600_000, description: 'Entries older than this are trimmed from the event log.' }),
    maxLength: Type.Integer({ minimum: 1000, default: 1_000_000, description: 'Memory safety valve: the log keeps at most about this many entries.' }),
    trimIntervalMs: Type.Integer({ minimum: 100, default: 60_000, description: 'How often entries beyond maxAgeMs and maxLength are trimmed.' }),
    dedupWindowMs: Type.Integer({ minimum: 1000, default: 24 * 3_600_000, description: 'A re-submitted event id inside this window is accepted and not delivered again.' }),
  },
  { ...strict, default: {}, description: 'The event log in Redis: retention and deduplication (docs/event-log.md).' },
);

const IntegratorsConfig = Type.Object(
  {
    claimIdleMs: Type.Integer({ minimum: 10, default: 30_000, description: 'A CDR unacknowledged this long goes to a live sibling worker (claimed by its consumeCdrs loop).' }),
    maxDeliveries: Type.Integer({ minimum: 1, default: 5, description: 'After this many deliveries an idle, unacknowledged CDR moves to the dead-letter stream.' }),
    sweepIntervalMs: Type.Integer({ minimum: 10, default: 5000, description: 'How often the hub moves poison CDRs to dead-letter streams.' }),
    trimIntervalMs: Type.Integer({ minimum: 10, default: 1000, description: 'How often the ack-aware janitor trims the stream.' }),
    replayRetentionMs: Type.Integer({ minimum: 0, default: 24 * 3_600_000, description: 'CDRs every group has acknowledged stay this long for replay (unless the stream nears maxLength).' }),
    maxLength: Type.Integer({ minimum: 10, default: 1_000_000, description: 'Hard memory cap of the stream, in entries: beyond it the oldest CDRs are dropped and counted as lost.' }),
    alarmRatio: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.8, description: 'Unacknowledged entries above this share of maxLength raise the alarm (metric, log, /readyz warning).' }),
    deadLetterMaxLength: Type.Integer({ minimum: 10, default: 100_000, description: 'Dead-letter streams keep about this many entries each.' }),
    listAlarmLength: Type.Integer({ minimum: 1, default: 100_000, description: '/readyz warns when a legacy list holds more than this many undelivered CDRs (lists are never trimmed).' }),
  },
  { ...strict, default: {}, description: 'Integrators: consumer groups on the critical-event stream, legacy lists, retention (docs/integrators.md).' },
);

const SpoolConfig = Type.Object(
  {
    maxBytes: Type.Integer({ minimum: 65_536, default: 1024 ** 3, description: "Upper bound of the on-disk spool, pages in use plus the WAL, whatever the file's history; beyond it intake answers 503 SPOOL_FULL." }),
    drainBatchEvents: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000, description: 'Events per Redis call while the spool drains (and per spool row).' }),
    drainRetryMs: Type.Integer({ minimum: 10, default: 500, description: 'While Redis is away, the drain of the spool retries this often.' }),
  },
  { ...strict, default: {}, description: 'The on-disk spool intake writes to while Redis is slow or away.' },
);

const EnigmaProfile = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Publish to Enigma (docs/mappings.md).' }),
    prefix: Type.String({ minLength: 1, default: 'enigma', description: 'Substituted for `{prefix}` in the channel and list names.' }),
    agentChannel: Type.String({ default: '{prefix}:notifications:agents:{agent}', description: "`{prefix}` and `{agent}` are substituted. The overview page's singular `agent` also occurs." }),
    campaignChannel: Type.String({ default: '{prefix}:notifications:campaigns:{campaign}', description: 'Channel of campaign events; `{prefix}` and `{campaign}` are substituted.' }),
    cdrList: Type.String({ default: '{prefix}:notifications:campaigns', description: 'The list CDRs are pushed to; `{prefix}` is substituted.' }),
    endCode: Type.Union([Type.Literal('q850'), Type.Literal('sip')], { default: 'q850', description: "Which cause the CDR's `end_code` carries: Q.850 (Dispositions page) or SIP (CDR page)." }),
  },
  { ...strict, default: {}, description: 'Enigma channels and lists the events are published to (docs/mappings.md).' },
);

const NewfiesProfile = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Publish to Newfies-Dialer (docs/mappings.md).' }),
    channel: Type.String({ minLength: 1, default: 'callcenter_events', description: 'The channel events are published on.' }),
    agentSystem: Type.String({ default: 'single_box', description: "mod_callcenter's instance id, sent as CC_Agent_System." }),
  },
  { ...strict, default: {}, description: 'The Newfies-Dialer channel the events are published to (docs/mappings.md).' },
);

const ProfilesConfig = Type.Object(
  {
    enigma: EnigmaProfile,
    newfies: NewfiesProfile,
  },
  { ...strict, default: {}, description: 'Publishing the events to diallers in their own formats (docs/mappings.md).' },
);

const CtiUser = Type.Object(
  {
    username: Type.String({ minLength: 1, pattern: '^[^:]+$' }),
    password: Type.Optional(Type.String({ minLength: 1, description: 'Hashed with scrypt at load; the plain text is not kept.' })),
    passwordHash: Type.Optional(Type.String({ pattern: '^scrypt\\$', description: '`scrypt$N$r$p$<salt base64>$<key base64>` (see docs/cti.md).' })),
  },
  strict,
);

const CtiNumbers = Type.Array(Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 0 })]), {
  minItems: 1,
  description: 'Numbers (quote them in YAML to keep leading zeros) or "first-last" ranges.',
});

const CtiPool = Type.Union([
  CtiNumbers,
  Type.Object({ numbers: CtiNumbers, ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })) }, strict),
]);

const CtiConfig = Type.Object(
  {
    users: Type.Array(CtiUser, { default: [], description: 'HTTP Basic credentials of the CTI routes: `username` and `password` or `passwordHash` (docs/cti.md).' }),
    pools: Type.Record(Type.String(), CtiPool, { default: {}, description: 'One pool of DNIS numbers per target system; the CTI routes exist only when a pool is configured.' }),
    defaultPool: Type.Optional(Type.String({ minLength: 1, description: 'The pool a POST without `pool` uses; optional when there is only one pool.' })),
    ttlSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 60, description: 'How long an entry (and its DNIS lease) lives unless fetched with DELETE first.' }),
    maxValueBytes: Type.Integer({ minimum: 16, maximum: 1_048_576, default: 4096, description: 'Size cap of a stored `value`, as JSON text.' }),
    utilisationWarningPercent: Type.Number({ minimum: 0, maximum: 100, default: 80, description: '/readyz warns when a pool has more of its numbers in use than this.' }),
    verifiedCacheSize: Type.Integer({ minimum: 1, default: 1024, description: 'Verified credentials remembered, least recently used dropped first; failed checks never evict them.' }),
    maxConcurrentChecks: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: "Password checks (scrypt, on libuv's 4-thread pool) running at once in total; beyond it 429." }),
    maxConcurrentChecksPerAddress: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: 'Password checks running at once for one client address; beyond it 429.' }),
    maxChecksPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 1000, default: 4, description: 'Password checks started per second in total (each costs a core for tens of ms); beyond it 429. Known credentials are not checked again.' }),
    recordEvents: Type.Boolean({ default: true, description: "cti.data_stored / cti.data_fetched in the event log; they carry the caller's ANI (personal data)." }),
  },
  { ...strict, default: {}, description: 'The CTI cache: DNIS pools and the credentials of its routes (docs/cti.md).' },
);

const WebhooksConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Deliver events to subscriptions; when false only the API runs.' }),
    allowPrivateTargets: Type.Boolean({ default: false, description: 'Private, loopback and link-local targets are refused unless this is true (tests, on-prem).' }),
    nodeId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[^:{}\\s]+$', description: "This hub's name in the node registry and in `current-active-server`; defaults to the hostname." })),
    slots: Type.Integer({ minimum: 1, maximum: 1024, default: 64, description: "Subscriptions' keys are spread over this many hash-tag slots (Redis Cluster); fixed for a deployment." }),
    leaseTtlMs: Type.Integer({ minimum: 300, default: 15_000, description: 'A node (heartbeat) or a subscription lease not renewed for this long is gone; renewed every third of it.' }),
    stableAfterMs: Type.Integer({ minimum: 0, default: 60_000, description: 'A node takes subscriptions only after it has been live this long without a gap (NetSapiens: 60 s).' }),
    batchMaxEvents: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Events in one POST to a subscriber, at most.' }),
    batchLingerMs: Type.Integer({ minimum: 0, default: 100, description: 'How long a batch short of batchMaxEvents waits for more events before it is sent.' }),
    maxPendingEvents: Type.Integer({ minimum: 1, default: 5000, description: 'Matched events buffered per subscription; beyond it the subscription re-reads the log itself.' }),
    connectTimeoutMs: Type.Integer({ minimum: 10, default: 5000, description: 'A subscriber not connected within this time counts as a failed attempt.' }),
    responseTimeoutMs: Type.Integer({ minimum: 10, default: 10_000, description: "A subscriber's answer not complete within this time counts as a failed attempt." }),
    maxResponseBodyBytes: Type.Integer({ minimum: 0, default: 65_536, description: "At most this much of a subscriber's answer is read." }),
    connectionsPerOrigin: Type.Integer({ minimum: 1, default: 16, description: 'Open connections to one subscriber origin, at most.' }),
    retryScheduleMs: Type.Array(Type.Integer({ minimum: 0 }), {
      description: "Delay before each retry; Svix's default (5 s … 10 h, ≈27.6 h with the first attempt).",
      default: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
    }),
    retryJitter: Type.Number({ minimum: 0, maximum: 1, default: 0.2, description: '±fraction of random jitter on every retry delay.' }),
    throttleFloorMs: Type.Integer({ minimum: 0, default: 60_000, description: "Minimum delay after a timeout or a 429/502/503/504 (Svix's overload penalty)." }),
    errorAfterFailures: Type.Integer({ minimum: 1, default: 4, description: "Consecutive failed attempts that turn a subscription's status to error." }),
    cleanIntervalMs: Type.Integer({ minimum: 0, default: 60_000, description: 'Clean posting time after which an error status returns to active.' }),
    disableAfterExhaustedBatches: Type.Integer({ minimum: 1, default: 3, description: 'Consecutive batches that exhaust their retries before the subscription is disabled.' }),
    secretRotationGraceMs: Type.Integer({ minimum: 0, default: 24 * 3_600_000, description: 'A rotated-out secret keeps signing (beside the new one) for this long.' }),
    pollIntervalMs: Type.Integer({ minimum: 10, default: 1000, description: 'How often a node looks for subscription changes made elsewhere.' }),
    caFile: Type.Optional(
      Type.String({ minLength: 1, description: "PEM CA certificates trusted for https post-urls besides the system's (a receiver with a private CA)." }),
    ),
  },
  { ...strict, default: {}, description: 'Event subscriptions: NetSapiens-style webhooks (docs/webhooks.md, docs/contracts/netsapiens-subscriptions.md). Durations in ms.' },
);

/** Settings every PBX source shares (src/sources, docs/sources.md). */
const sourceCommon = {
  name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', description: 'Names the source in events (`source`), logs, /readyz and /metrics.' }),
  host: Type.String({ minLength: 1 }),
  scope: Type.Optional(CloneType(TenantScope, { description: 'Tenant stamped on every event from this PBX.' })),
  connectTimeoutMs: Type.Integer({ minimum: 10, default: 5000 }),
  reconnectInitialMs: Type.Integer({ minimum: 10, default: 500, description: 'Reconnect backoff: doubles from the initial delay up to the cap, with jitter.' }),
  reconnectMaxMs: Type.Integer({ minimum: 10, default: 30_000 }),
  cdr: Type.Union([Type.Literal('per_call'), Type.Literal('per_leg')], { default: 'per_call', description: "`per_call`: one `cdr.created` per call, its legs merged, once the call is over; `per_leg`: the PBX's own records, one per leg (docs/sources.md, \"One record per call (FreeSWITCH)\", \"One record per call (Asterisk)\")." }),
  cdrSettleMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000, description: "After a call's last leg hung up, how long to wait for the PBX's trailing leg records before the call's record is written." }),
  variables: Type.Object(
    {
      callId: Type.String({ minLength: 1, default: 'callrequest_id' }),
      campaign: Type.String({ minLength: 1, default: 'campaign_id' }),
      contactRef: Type.Optional(Type.String({ minLength: 1 })),
    },
    { ...strict, default: {}, description: "Channel variables carrying the dialler's call id and campaign (Newfies-Dialer's names by default)." },
  ),
};
/** No line breaks: credentials and names are written into the PBX protocol's lines. */
const Credential = (options: { default?: string; description?: string } = {}) => Type.String({ minLength: 1, pattern: '^[^\\r\\n]+$', ...options });

export const FreeswitchSourceConfig = Type.Object(
  {
    type: Type.Literal('freeswitch'),
    ...sourceCommon,
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 8021 }),
    password: Credential({ default: 'ClueCon', description: 'The Event Socket password (event_socket.conf.xml); FreeSWITCH ships with ClueCon.' }),
    format: Type.Union([Type.Literal('json'), Type.Literal('plain')], { default: 'json' }),
    events: Type.Array(Type.String({ minLength: 1, pattern: '^[^\\r\\n]+$' }), {
      minItems: 1,
      default: ['CUSTOM', 'callcenter::info', 'CHANNEL_HANGUP_COMPLETE'],
    }),
    detectSequenceGaps: Type.Optional(
      Type.Boolean({
        description: 'Report a jump in Event-Sequence as lost events. FreeSWITCH numbers every event it fires, so this is only meaningful when subscribed to ALL; default: on exactly then.',
      }),
    ),
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
    direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')], { default: 'inbound', description: "Which way the queued calls go (AMI does not say): the CDR's direction and which party is `number`." }),
    timeZone: Type.String({ minLength: 1, default: 'UTC', description: "IANA zone of the Asterisk server's clock (cdr_manager times carry no offset)." }),
  },
  strict,
);

const StreamConfig = Type.Object(
  {
    heartbeatMs: Type.Integer({ minimum: 100, default: 15_000, description: 'A comment line this often keeps proxies from closing an idle stream.' }),
    clientBufferBytes: Type.Integer({ minimum: 4096, default: 1_048_576, description: 'Bytes held for a client that does not read, the batch being written included; beyond it the client is disconnected (it can resume).' }),
    maxClients: Type.Integer({ minimum: 1, default: 10_000, description: 'Open streams per hub process; beyond it GET /v1/stream answers 503 STREAM_FULL.' }),
    retryMs: Type.Integer({ minimum: 0, default: 2000, description: 'The `retry:` a browser waits before reconnecting on its own.' }),
  },
  { ...strict, default: {}, description: 'GET /v1/stream: Server-Sent Events of the event log (docs/live.md).' },
);

const LiveQueue = Type.Object(
  {
    serviceLevelThresholdMs: Type.Optional(Type.Integer({ minimum: 0, description: 'Calls answered within this wait count towards the service level.' })),
    shortAbandonMs: Type.Optional(Type.Integer({ minimum: 0, description: 'Callers who hang up within this wait are short abandons: counted, and left out of the service level.' })),
    alerts: Type.Optional(
      Type.Object(
        {
          serviceLevelBelowPct: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: "`service_level_below` while today's service level % is under this." })),
          longestWaitOverS: Type.Optional(Type.Integer({ minimum: 1, description: '`longest_wait_over` while a caller has waited this many seconds or more.' })),
        },
        { ...strict, description: 'The queue\'s live alerts (docs/live.md, "Alerts"); each is off unless set.' },
      ),
    ),
  },
  strict,
);

const LiveConfig = Type.Object(
  {
    resetTime: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', default: '00:00', description: 'Daily counters restart at this local time (HH:MM) in `timeZone`.' }),
    timeZone: Type.String({ minLength: 1, default: 'UTC', description: 'IANA time zone of `resetTime`, e.g. Africa/Johannesburg.' }),
    serviceLevelThresholdMs: Type.Integer({ minimum: 0, default: 20_000, description: 'Calls answered within this wait count towards the service level.' }),
    shortAbandonMs: Type.Integer({ minimum: 0, default: 5_000, description: 'Callers who hang up within this wait are short abandons: counted, and left out of the service level.' }),
    serviceLevelFormula: Type.Union([Type.Literal('answered_and_abandoned'), Type.Literal('answered')], {
      default: 'answered_and_abandoned',
      description: 'How service_level_pct counts abandons: `answered_and_abandoned`, answered within the threshold ÷ (answered + abandoned − short abandons); `answered`, answered within the threshold ÷ answered (docs/live.md, "Service level").',
    }),
    queues: Type.Record(Type.String({ minLength: 1 }), LiveQueue, { default: {}, description: "Per-queue overrides of the two thresholds and the queue's alerts, by queue name." }),
    alerts: Type.Object(
      {
        afterCallWorkOverS: Type.Optional(Type.Integer({ minimum: 1, description: '`after_call_work_over` once an agent has been in after-call work this many seconds.' })),
        notReadyOverS: Type.Optional(Type.Integer({ minimum: 1, description: '`not_ready_over` once an agent has been not ready or on a break this many seconds.' })),
      },
      { ...strict, default: {}, description: 'Agents\' live alerts (docs/live.md, "Alerts"); each is off unless set.' },
    ),
    rebuildWindowMs: Type.Integer({ minimum: 0, default: 48 * 3_600_000, description: 'At start the projection replays the log accepted within this window (and what it still keeps).' }),
    latestCdrs: Type.Integer({ minimum: 0, maximum: 1000, default: 50, description: "CDRs kept for the board's latest-CDR list." }),
    staleCallMs: Type.Integer({ minimum: 60_000, default: 4 * 3_600_000, description: 'Calls with no news for this long are dropped from calls in progress and waiting (a lost end event).' }),
    maxAgents: Type.Integer({ minimum: 1, default: 50_000, description: 'Agents held in the live state; beyond it the least recently active one is dropped (counted in /metrics).' }),
    maxQueues: Type.Integer({ minimum: 1, default: 50_000, description: 'Queues held in the live state; beyond it the least recently active one is dropped.' }),
    maxCalls: Type.Integer({ minimum: 1, default: 100_000, description: 'Calls in progress held in the live state; beyond it the least recently active one is dropped.' }),
  },
  { ...strict, default: {}, description: 'Live contact-centre state, projected from the event log (docs/live.md).' },
);

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data', description: "Where the spool and a launched Redis's files live." }),
    keyPrefix: Type.String({ minLength: 1, pattern: '^[^{}]+$', default: 'switchboard', description: 'Namespace of every key Switchboard owns (see src/redis/keys.ts).' }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
      { default: 'info', description: 'The least severe log lines written (pino levels).' },
    ),
    shutdownTimeoutMs: Type.Integer({ minimum: 100, default: 10_000, description: 'At shutdown, after events in flight are settled, the spool gets this long to drain into Redis.' }),
    http: HttpConfig,
    redis: RedisConfig,
    auth: AuthConfig,
    eventLog: EventLogConfig,
    integrators: IntegratorsConfig,
    spool: SpoolConfig,
    profiles: ProfilesConfig,
    cti: CtiConfig,
    webhooks: WebhooksConfig,
    sources: Type.Array(Type.Union([FreeswitchSourceConfig, AsteriskSourceConfig]), { default: [], description: 'PBXs the hub connects out to (src/sources).' }),
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
export type TlsConfig = Static<typeof TlsConfig>;
export type CtiConfig = Static<typeof CtiConfig>;
export type WebhooksConfig = Static<typeof WebhooksConfig>;
export type StreamConfig = Static<typeof StreamConfig>;
export type LiveConfig = Static<typeof LiveConfig>;
export type FreeswitchSourceSettings = Static<typeof FreeswitchSourceConfig>;
export type AsteriskSourceSettings = Static<typeof AsteriskSourceConfig>;
