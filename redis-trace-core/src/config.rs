//! Process-wide settings: a builder installed once at start-up, on top of the environment.
//!
//! Every option has a default, an environment variable, and a builder method; the builder starts
//! from the environment, so code wins over the environment where both are given. Installing a
//! configuration changes process-wide state, which `globals` owns: `ConfigBuilder::install` is
//! defined there.

use std::sync::Arc;

use crate::endpoint::{Endpoint, ToEndpoint};
use crate::key::KeyPolicy;
use crate::summary::{SummaryBudget, SummaryRules, DEFAULT_SUMMARY_LIMIT};

/// Which attribute names are written (`OTEL_SEMCONV_STABILITY_OPT_IN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SemconvMode {
    /// The stable database conventions (default).
    Stable,
    /// The pre-stable names only (`db.system`, `db.statement`, `db.operation`,
    /// `db.redis.database_index`, `net.peer.name`, `net.peer.port`).
    Old,
    /// Both, for migrating dashboards.
    Both,
}

impl SemconvMode {
    /// The mode `OTEL_SEMCONV_STABILITY_OPT_IN` asks for: `database` → stable, `database/dup` →
    /// both (it wins when both are listed), set without either → old, unset → stable.
    pub(crate) fn from_opt_in(value: Option<&str>) -> Self {
        let Some(value) = value else {
            return Self::Stable;
        };
        let entries: Vec<&str> = value.split(',').map(str::trim).collect();
        if entries.contains(&"database/dup") {
            Self::Both
        } else if entries.contains(&"database") {
            Self::Stable
        } else {
            Self::Old
        }
    }

    /// Whether stable names are written.
    pub(crate) fn stable(self) -> bool {
        matches!(self, Self::Stable | Self::Both)
    }

    /// Whether old names are written.
    pub(crate) fn old(self) -> bool {
        matches!(self, Self::Old | Self::Both)
    }
}

/// Longest key rendering recorded by default, in bytes (`REDIS_TRACE_MAX_KEY_LENGTH`).
const DEFAULT_MAX_KEY_LENGTH: usize = 256;
/// Longest `db.query.text` recorded by default, in bytes (`REDIS_TRACE_MAX_STATEMENT_LENGTH`).
const DEFAULT_MAX_STATEMENT_LENGTH: usize = 2048;

/// Process-wide settings: start with [`Config::builder`], end with [`ConfigBuilder::install`];
/// [`Config::current`] reads the one in effect.
///
/// ```
/// use redis_trace::{Config, KeyPolicy};
///
/// Config::builder()
///     .with_key_policy(KeyPolicy::Omit)
///     .with_denied_commands(["PING"])
///     .with_require_parent(true)
///     .install();
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    semconv: SemconvMode,
    key_policy: KeyPolicy,
    hash_policy: KeyPolicy,
    deny_commands: Vec<String>,
    require_parent: bool,
    metrics: bool,
    pipeline_command_spans: bool,
    code_attributes: bool,
    propagate_messages: bool,
    trace_empty_polls: bool,
    max_key_length: usize,
    max_statement_length: usize,
    query_summaries: bool,
    query_summary_limit: usize,
    stream_lag: bool,
    /// The summaries given out under this configuration (shared by its clones; a new
    /// configuration starts a new budget).
    summary_budget: Arc<SummaryBudget>,
}

impl Config {
    /// A builder starting from the environment (see *Configuration* in the crate documentation of `redis-trace`).
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Self::from_env(),
            default_endpoint: None,
        }
    }

    /// The defaults, overridden by the environment variables that are set.
    pub(crate) fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The defaults, overridden by what `lookup` returns for each variable name.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let flag = |name: &str, default: bool| {
            lookup(name).map_or(default, |value| {
                matches!(
                    value.trim().to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "on"
                )
            })
        };
        let length = |name: &str, default: usize| {
            lookup(name)
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(default)
        };
        let hash_secret = lookup("REDIS_TRACE_HASH_KEY");
        Self {
            semconv: SemconvMode::from_opt_in(lookup("OTEL_SEMCONV_STABILITY_OPT_IN").as_deref()),
            key_policy: lookup("REDIS_TRACE_KEY_POLICY")
                .and_then(|name| KeyPolicy::from_name(&name, hash_secret.as_deref()))
                .unwrap_or_default(),
            hash_policy: KeyPolicy::from_name("hash", hash_secret.as_deref()).unwrap_or_default(),
            deny_commands: lookup("REDIS_TRACE_DENY_COMMANDS")
                .map(|list| parse_command_list(&list))
                .unwrap_or_default(),
            require_parent: flag("REDIS_TRACE_REQUIRE_PARENT", false),
            metrics: flag("REDIS_TRACE_METRICS", true),
            pipeline_command_spans: flag("REDIS_TRACE_PIPELINE_COMMAND_SPANS", false),
            code_attributes: flag("REDIS_TRACE_CODE_ATTRIBUTES", true),
            propagate_messages: flag("REDIS_TRACE_PROPAGATE_MESSAGES", false),
            trace_empty_polls: flag("REDIS_TRACE_EMPTY_POLLS", false),
            max_key_length: length("REDIS_TRACE_MAX_KEY_LENGTH", DEFAULT_MAX_KEY_LENGTH),
            max_statement_length: length(
                "REDIS_TRACE_MAX_STATEMENT_LENGTH",
                DEFAULT_MAX_STATEMENT_LENGTH,
            ),
            query_summaries: flag("REDIS_TRACE_QUERY_SUMMARIES", false),
            stream_lag: flag("REDIS_TRACE_STREAM_LAG", true),
            query_summary_limit: length("REDIS_TRACE_QUERY_SUMMARY_LIMIT", DEFAULT_SUMMARY_LIMIT),
            summary_budget: Arc::default(),
        }
    }

    /// The semantic-convention mode.
    #[must_use]
    pub fn semconv(&self) -> SemconvMode {
        self.semconv
    }

    /// The process-wide key policy.
    #[must_use]
    pub fn key_policy(&self) -> &KeyPolicy {
        &self.key_policy
    }

    /// The `Hash` policy with the configured secret, used by `key_policy = "hash"`.
    pub(crate) fn hash_policy(&self) -> &KeyPolicy {
        &self.hash_policy
    }

    /// Whether `command` (upper case) is on the deny-list: no span (metrics are still recorded).
    #[must_use]
    pub fn is_denied(&self, command: &str) -> bool {
        self.deny_commands.iter().any(|denied| denied == command)
    }

    /// Whether spans are only created under an existing parent span.
    #[must_use]
    pub fn require_parent(&self) -> bool {
        self.require_parent
    }

    /// Whether the duration histogram and the cache counter are recorded.
    #[must_use]
    pub fn records_metrics(&self) -> bool {
        self.metrics
    }

    /// Whether pipelines get one child span per command (off: one span per pipeline).
    #[must_use]
    pub fn pipeline_command_spans(&self) -> bool {
        self.pipeline_command_spans
    }

    /// Whether an annotated function's span records where it is (`code.function.name`,
    /// `code.file.path`, `code.line.number`).
    #[must_use]
    pub fn code_attributes(&self) -> bool {
        self.code_attributes
    }

    /// Whether traced connections carry the trace context in the messages they send (off:
    /// messages unchanged); a connection's `with_propagation` overrides it.
    #[must_use]
    pub fn propagate_messages(&self) -> bool {
        self.propagate_messages
    }

    /// Whether a stream read that returned nothing gets a span (off: only its metrics).
    #[must_use]
    pub fn trace_empty_polls(&self) -> bool {
        self.trace_empty_polls
    }

    /// Longest key rendering, in bytes.
    #[must_use]
    pub fn max_key_length(&self) -> usize {
        self.max_key_length
    }

    /// Longest `db.query.text`, in bytes.
    #[must_use]
    pub fn max_statement_length(&self) -> usize {
        self.max_statement_length
    }

    /// Whether a traced connection's commands get a `db.query.summary` from their keys'
    /// patterns (off by default).
    #[must_use]
    pub fn query_summaries(&self) -> bool {
        self.query_summaries
    }

    /// How many distinct summaries a traced connection's commands get before falling back to
    /// the operation name.
    #[must_use]
    pub fn query_summary_limit(&self) -> usize {
        self.query_summary_limit
    }

    /// How many commands so far got the operation name as their summary because the limit was
    /// reached (also counted in `redis_trace.query_summary.overflows`).
    #[must_use]
    pub fn query_summary_overflows(&self) -> u64 {
        self.summary_budget.overflows()
    }

    /// Whether stream reads record each entry's lag (`redis.client.stream.lag`).
    #[must_use]
    pub fn stream_lag(&self) -> bool {
        self.stream_lag
    }

    /// Whether the caller is the first to report that the summary limit was reached.
    pub(crate) fn claim_summary_report(&self) -> bool {
        self.summary_budget.claim_report()
    }

    /// How commands are summarized, when summaries are on.
    pub(crate) fn summary_rules(&self) -> Option<SummaryRules<'_>> {
        self.query_summaries.then(|| SummaryRules {
            budget: &self.summary_budget,
            limit: self.query_summary_limit,
            key_policy: &self.key_policy,
            max_key_length: self.max_key_length,
        })
    }
}

/// The defaults, ignoring the environment.
impl Default for Config {
    fn default() -> Self {
        Self::from_lookup(|_| None)
    }
}

fn parse_command_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(|command| {
            command
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_uppercase()
        })
        .filter(|command| !command.is_empty())
        .collect()
}

/// Builds a [`Config`] and installs it; see [`Config::builder`].
///
/// `ConfigBuilder::default()` starts from the defaults, ignoring the environment.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ConfigBuilder {
    pub(crate) config: Config,
    /// Set as the default endpoint on install; `None` keeps the current one.
    pub(crate) default_endpoint: Option<Endpoint>,
}

impl ConfigBuilder {
    /// Stable, old or both attribute names.
    pub fn with_semconv(mut self, mode: SemconvMode) -> Self {
        self.config.semconv = mode;
        self
    }

    /// How keys appear in telemetry (default [`KeyPolicy::Pattern`]).
    pub fn with_key_policy(mut self, policy: KeyPolicy) -> Self {
        self.config.key_policy = policy;
        self
    }

    /// The secret of the `Hash` key policy (`REDIS_TRACE_HASH_KEY`); also switches the hash
    /// policy set by name to this secret.
    pub fn with_hash_secret(mut self, secret: &str) -> Self {
        self.config.hash_policy = KeyPolicy::hash_with_secret(secret);
        if matches!(self.config.key_policy, KeyPolicy::Hash { .. }) {
            self.config.key_policy = self.config.hash_policy.clone();
        }
        self
    }

    /// Commands that never get a span, e.g. `["PING"]` for health checks. Metrics are still
    /// recorded for them.
    pub fn with_denied_commands<I, S>(mut self, commands: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.config.deny_commands = commands
            .into_iter()
            .flat_map(|command| parse_command_list(command.as_ref()))
            .collect();
        self
    }

    /// Create spans only under an existing parent span (no root spans from background work).
    pub fn with_require_parent(mut self, require: bool) -> Self {
        self.config.require_parent = require;
        self
    }

    /// Record the duration histogram and the cache counter (default on).
    pub fn with_metrics(mut self, enabled: bool) -> Self {
        self.config.metrics = enabled;
        self
    }

    /// One child span per command of a pipeline, under the pipeline's span (default off).
    pub fn with_pipeline_command_spans(mut self, enabled: bool) -> Self {
        self.config.pipeline_command_spans = enabled;
        self
    }

    /// Record where an annotated function is: `code.function.name`, `code.file.path`,
    /// `code.line.number` on its span (default on). Off saves about 5 % of a kept span's cost
    /// (see BENCHMARKS.md); the cache counter keeps `code.function.name` either way.
    pub fn with_code_attributes(mut self, enabled: bool) -> Self {
        self.config.code_attributes = enabled;
        self
    }

    /// Carry the trace context in messages sent through traced connections (default off: it
    /// changes what every consumer sees): an envelope around `PUBLISH` / `SPUBLISH` payloads,
    /// `traceparent` / `tracestate` fields on `XADD` entries; and remove it from entries that
    /// `XREAD` / `XREADGROUP` return. See `redis_trace::messaging`.
    pub fn with_propagation(mut self, enabled: bool) -> Self {
        self.config.propagate_messages = enabled;
        self
    }

    /// Give a stream read that returned nothing (a `BLOCK` timeout) a span (default off: polls
    /// would flood traces; the duration metric still counts them).
    pub fn with_trace_empty_polls(mut self, enabled: bool) -> Self {
        self.config.trace_empty_polls = enabled;
        self
    }

    /// Longest key rendering, in bytes.
    pub fn with_max_key_length(mut self, bytes: usize) -> Self {
        self.config.max_key_length = bytes;
        self
    }

    /// Longest `db.query.text`, in bytes.
    pub fn with_max_statement_length(mut self, bytes: usize) -> Self {
        self.config.max_statement_length = bytes;
        self
    }

    /// Give a traced connection's commands a `db.query.summary` (and span name) from their
    /// keys' patterns, `GET user:?`, so latency, errors and hit ratio group by key pattern
    /// (`REDIS_TRACE_QUERY_SUMMARIES`; default off: the pattern is rendered for every command).
    /// Under the `hash` and `omit` key policies and custom ones, commands get no summary. See
    /// [`ConfigBuilder::with_query_summary_limit`].
    pub fn with_query_summaries(mut self, enabled: bool) -> Self {
        self.config.query_summaries = enabled;
        self
    }

    /// At most this many distinct summaries (default 1000,
    /// `REDIS_TRACE_QUERY_SUMMARY_LIMIT`): later new ones fall back to the operation name, and
    /// are counted. Bounds the metric series a connection creates whatever its keys look like.
    pub fn with_query_summary_limit(mut self, limit: usize) -> Self {
        self.config.query_summary_limit = limit;
        self
    }

    /// Record each stream entry's lag when `XREAD` / `XREADGROUP` returns it: the histogram
    /// `redis.client.stream.lag` (seconds, from the entry id's time; ids that are not times, such
    /// as `1-1`, record nothing) and the receive span's `redis.stream.max_lag`
    /// (`REDIS_TRACE_STREAM_LAG`; default on: it reads only the ids the reply holds).
    pub fn with_stream_lag(mut self, enabled: bool) -> Self {
        self.config.stream_lag = enabled;
        self
    }

    /// The endpoint used where `endpoint = ...` is not given (e.g. your `redis::Client`), set
    /// on install as [`set_default_endpoint`](crate::set_default_endpoint) does. Without it,
    /// installing keeps the current default endpoint.
    pub fn with_default_endpoint(mut self, endpoint: impl ToEndpoint) -> Self {
        self.default_endpoint = Some(endpoint.to_endpoint());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_in_modes() {
        assert_eq!(SemconvMode::from_opt_in(None), SemconvMode::Stable);
        assert_eq!(
            SemconvMode::from_opt_in(Some("database")),
            SemconvMode::Stable
        );
        assert_eq!(
            SemconvMode::from_opt_in(Some("http, database/dup")),
            SemconvMode::Both
        );
        assert_eq!(
            SemconvMode::from_opt_in(Some("database,database/dup")),
            SemconvMode::Both
        );
        assert_eq!(SemconvMode::from_opt_in(Some("http")), SemconvMode::Old);
    }

    #[test]
    fn environment_is_read() {
        let env = |name: &str| match name {
            "REDIS_TRACE_DENY_COMMANDS" => Some("ping, client  setname".to_owned()),
            "REDIS_TRACE_REQUIRE_PARENT" => Some("true".to_owned()),
            "REDIS_TRACE_METRICS" => Some("off".to_owned()),
            "REDIS_TRACE_MAX_KEY_LENGTH" => Some("32".to_owned()),
            "REDIS_TRACE_KEY_POLICY" => Some("omit".to_owned()),
            _ => None,
        };
        let config = Config::from_lookup(env);
        assert!(config.is_denied("PING") && config.is_denied("CLIENT SETNAME"));
        assert!(!config.is_denied("GET"));
        assert!(config.require_parent());
        assert!(!config.records_metrics());
        assert_eq!(config.max_key_length(), 32);
        assert_eq!(config.max_statement_length(), DEFAULT_MAX_STATEMENT_LENGTH);
        assert!(matches!(config.key_policy(), KeyPolicy::Omit));
    }
}
