//! The Prometheus rules in `dashboards/` name only metrics and labels redis-trace emits: a
//! workload against a real redis-server (annotated lookups that hit, miss and fail, a traced
//! connection with query summaries past their limit, a pool that makes a caller wait and time
//! out) records every metric the rules use; each metric is translated the way the OpenTelemetry
//! Collector's Prometheus exporter names it. Each rule's expression is read as PromQL: every
//! name that is not a function, an aggregation, a keyword or a label is a metric and must be
//! emitted (or recorded by an earlier rule); every label must be on the series it applies to (a
//! selector's metric, the series an aggregation's `by (...)` groups, an alert's `$labels.x` the
//! series its expression yields). (`promtool check rules` checks the syntax, in CI.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use redis::AsyncCommands;
use redis_trace::pool::deadpool::TracedPool;
use redis_trace::{redis_traced, semconv, Config, TracedConnection};
use redis_trace_harness::{capture, Capture, RedisServer};

const RULES: &str = "dashboards/prometheus-rules.yml";

struct Store {
    conn: redis::aio::MultiplexedConnection,
}

impl Store {
    #[redis_traced(op = "GET", key = "user:{id}")]
    async fn user(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("user:{id}")).await
    }
}

/// How an instrument is exported to Prometheus.
#[derive(Clone, Copy)]
enum Kind {
    Histogram,
    Counter,
    Gauge,
}

/// Every instrument redis-trace creates, with its kind.
const INSTRUMENTS: &[(&str, Kind)] = &[
    (semconv::DB_CLIENT_OPERATION_DURATION, Kind::Histogram),
    (semconv::CACHE_REQUESTS, Kind::Counter),
    (semconv::QUERY_SUMMARY_OVERFLOWS, Kind::Counter),
    (semconv::DB_CLIENT_CONNECTION_COUNT, Kind::Gauge),
    (semconv::DB_CLIENT_CONNECTION_MAX, Kind::Gauge),
    (semconv::DB_CLIENT_CONNECTION_IDLE_MAX, Kind::Gauge),
    (semconv::DB_CLIENT_CONNECTION_IDLE_MIN, Kind::Gauge),
    (semconv::DB_CLIENT_CONNECTION_PENDING_REQUESTS, Kind::Gauge),
    (semconv::DB_CLIENT_CONNECTION_TIMEOUTS, Kind::Counter),
    (semconv::DB_CLIENT_CONNECTION_CREATE_TIME, Kind::Histogram),
    (semconv::DB_CLIENT_CONNECTION_WAIT_TIME, Kind::Histogram),
    (semconv::DB_CLIENT_CONNECTION_USE_TIME, Kind::Histogram),
    (semconv::MESSAGING_CLIENT_SENT_MESSAGES, Kind::Counter),
    (semconv::MESSAGING_CLIENT_CONSUMED_MESSAGES, Kind::Counter),
    (semconv::MESSAGING_PROCESS_DURATION, Kind::Histogram),
    (
        semconv::MESSAGING_CLIENT_OPERATION_DURATION,
        Kind::Histogram,
    ),
    (semconv::REDIS_TRACE_CONNECTION_RECONNECTS, Kind::Counter),
    (semconv::REDIS_CLIENT_STREAM_LAG, Kind::Histogram),
    (semconv::REDIS_CLIENT_CSC_REQUESTS, Kind::Counter),
    (semconv::REDIS_CLIENT_CSC_EVICTIONS, Kind::Counter),
];

/// `name` as the Collector's Prometheus exporter writes it: dots as underscores, `_seconds` for
/// the unit `s` (units in braces are dropped), `_total` on counters; the series of a histogram.
fn prometheus_names(name: &str, unit: &str, kind: Kind) -> Vec<String> {
    let mut base = name.replace('.', "_");
    if unit == "s" {
        base.push_str("_seconds");
    }
    match kind {
        Kind::Histogram => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|suffix| format!("{base}{suffix}"))
            .collect(),
        Kind::Counter => vec![format!("{base}_total")],
        Kind::Gauge => vec![base],
    }
}

/// The Prometheus series names emitted by the workload, with the labels each carries.
fn emitted(capture: &Capture) -> BTreeMap<String, BTreeSet<String>> {
    let mut series = BTreeMap::new();
    for &(name, kind) in INSTRUMENTS {
        for point in capture.metric_points(name) {
            for prometheus in prometheus_names(name, &point.unit, kind) {
                let labels: &mut BTreeSet<String> = series.entry(prometheus.clone()).or_default();
                labels.extend(point.attributes.keys().map(|key| key.replace('.', "_")));
                if prometheus.ends_with("_bucket") {
                    labels.insert("le".to_owned());
                }
            }
        }
    }
    series
}

async fn workload(server: &RedisServer) {
    let mut conn = server.connection(0).await;
    let _: () = conn.set("user:1", "ada").await.unwrap();
    let _: () = conn.rpush("user:3", "x").await.unwrap();
    let store = Store { conn };
    store.user(1).await.unwrap();
    store.user(2).await.unwrap();
    store.user(3).await.unwrap_err();

    Config::builder()
        .with_query_summaries(true)
        .with_query_summary_limit(1)
        .install();
    let mut traced = TracedConnection::new(server.connection(0).await);
    for key in ["user:1", "order:2"] {
        let _: Option<String> = traced.get(key).await.unwrap();
    }
    // A stream consumer's lag.
    redis_trace_harness::create_stream_group(&mut traced, "invoices", "billing").await;
    let _: String = traced
        .xadd("invoices", "*", &[("order", "1")])
        .await
        .unwrap();
    let options = redis::streams::StreamReadOptions::default().group("billing", "worker");
    let _: redis::streams::StreamReadReply = traced
        .xread_options(&["invoices"], &[">"], &options)
        .await
        .unwrap();

    // A client-side cache: a miss, then a hit.
    let caching = redis::Client::open(format!("{}?protocol=resp3", server.url(0))).unwrap();
    let cache =
        redis::AsyncConnectionConfig::new().set_cache_config(redis::caching::CacheConfig::new());
    let mut cached = TracedConnection::new(
        caching
            .get_multiplexed_async_connection_with_config(&cache)
            .await
            .unwrap(),
    )
    .with_endpoint(&caching)
    .with_client_side_caching();
    for _ in 0..2 {
        let _: Option<String> = cached.get("user:1").await.unwrap();
    }
    // Another client's write evicts the entry.
    let _: () = server.connection(0).await.set("user:1", "b").await.unwrap();
    let _: Option<String> = cached.get("user:1").await.unwrap();

    let mut config = deadpool_redis::Config::from_url(server.url(0));
    config.pool = Some(deadpool_redis::PoolConfig {
        max_size: 1,
        timeouts: deadpool_redis::Timeouts {
            wait: Some(Duration::from_millis(100)),
            ..Default::default()
        },
        ..Default::default()
    });
    let inner = config
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap();
    let pool = TracedPool::new(inner, server.client());
    let lease = pool.get().await.unwrap();
    assert!(pool.get().await.is_err(), "the second get times out");
    drop(lease);
}

/// One rule of the file: its name (`record:` or `alert:`), its expression, the labels its
/// annotations read (`$labels.x`).
#[derive(Debug, Default)]
struct Rule {
    name: String,
    recorded: bool,
    expr: String,
    annotation_labels: BTreeSet<String>,
}

/// The rules of `text`, read line by line (the file's own layout: `- record:` / `- alert:`
/// items, `expr:` inline or as a folded block).
fn rules(text: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut in_expr = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        if let Some((key, value)) = trimmed.trim_start_matches("- ").split_once(": ") {
            in_expr = false;
            match key {
                "record" | "alert" => rules.push(Rule {
                    name: value.to_owned(),
                    recorded: key == "record",
                    ..Rule::default()
                }),
                "expr" if value == ">" => in_expr = true,
                "expr" => rules.last_mut().unwrap().expr = value.to_owned(),
                _ => {
                    if let Some(rule) = rules.last_mut() {
                        for (at, marker) in value.match_indices("$labels.") {
                            let label: String = value[at + marker.len()..]
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            rule.annotation_labels.insert(label);
                        }
                    }
                }
            }
        } else if in_expr {
            let rule = rules.last_mut().unwrap();
            rule.expr.push(' ');
            rule.expr.push_str(trimmed);
        }
    }
    rules
}

/// What the check knows of a metric: the labels its series carry, or `None` when that is not
/// known (a metric already reported as unknown), so one mistake is reported once.
type Labels = Option<BTreeSet<String>>;

/// The Prometheus aggregation operators.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// The aggregations whose result keeps each series' labels.
const SELECTING: &[&str] = &["bottomk", "topk", "limitk", "limit_ratio"];

/// The PromQL functions.
const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "exp",
    "floor",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "mad_over_time",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_by_label",
    "sort_by_label_desc",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Words of the language that are neither metrics nor functions: modifiers and set operators.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "atan2",
];

/// A PromQL token.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A metric, label, function or keyword.
    Word(String),
    /// A number or a duration (`0.99`, `5m`).
    Number,
    /// A string literal, unquoted.
    Text(String),
    /// An operator: `+ - * / % ^ == != < > <= >= = =~ !~ @`.
    Op(&'static str),
    Open(char),
    Close(char),
    Comma,
}

fn tokenize(expr: &str) -> Result<Vec<Token>, String> {
    const OPS: &[&str] = &[
        "==", "!=", "=~", "!~", "<=", ">=", "+", "-", "*", "/", "%", "^", "<", ">", "=", "@",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut tokens = Vec::new();
    let mut at = 0;
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    while let Some(&c) = chars.get(at) {
        let start = at;
        at += 1;
        match c {
            c if c.is_whitespace() => {}
            c if c.is_alphabetic() || c == '_' || c == ':' => {
                while chars.get(at).is_some_and(|&c| word(c)) {
                    at += 1;
                }
                tokens.push(Token::Word(chars[start..at].iter().collect()));
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(at).is_some_and(char::is_ascii_digit)) =>
            {
                while chars
                    .get(at)
                    .is_some_and(|&c| c.is_alphanumeric() || c == '.')
                {
                    // An exponent's sign: `1e-3`.
                    if matches!(chars[at], 'e' | 'E')
                        && matches!(chars.get(at + 1), Some('+' | '-'))
                    {
                        at += 1;
                    }
                    at += 1;
                }
                tokens.push(Token::Number);
            }
            '"' | '\'' | '`' => {
                let mut text = String::new();
                loop {
                    match chars.get(at) {
                        None => return Err(format!("unclosed string in {expr:?}")),
                        Some('\\') if c != '`' => {
                            text.extend(chars.get(at + 1));
                            at += 2;
                        }
                        Some(&end) if end == c => {
                            at += 1;
                            break;
                        }
                        Some(&other) => {
                            text.push(other);
                            at += 1;
                        }
                    }
                }
                tokens.push(Token::Text(text));
            }
            '(' | '{' | '[' => tokens.push(Token::Open(c)),
            ')' | '}' | ']' => tokens.push(Token::Close(c)),
            ',' => tokens.push(Token::Comma),
            _ => {
                let rest: String = chars[start..chars.len().min(start + 2)].iter().collect();
                let op = OPS
                    .iter()
                    .find(|op| rest.starts_with(**op))
                    .ok_or_else(|| format!("unexpected {c:?} in {expr:?}"))?;
                at = start + op.len();
                tokens.push(Token::Op(op));
            }
        }
    }
    Ok(tokens)
}

/// What an expression evaluates to, as far as names go.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Scalar,
    Text(String),
    /// Series: the labels they carry, and the metrics they come from (for messages).
    Vector(Labels, BTreeSet<String>),
}

impl Value {
    fn vector(labels: BTreeSet<String>) -> Self {
        Value::Vector(Some(labels), BTreeSet::new())
    }
}

/// Reads one rule's expression, checking every metric against what is emitted (or recorded by
/// an earlier rule) and every label against the series it applies to: a selector's matchers
/// against its metric, an aggregation's `by`/`without` list against the series it aggregates,
/// `on`/`ignoring` against both sides. A subset of PromQL: operator precedence is not modelled,
/// since it changes no name the check looks at in these rules.
struct Checker<'a> {
    tokens: Vec<Token>,
    at: usize,
    series: &'a BTreeMap<String, BTreeSet<String>>,
    recorded: &'a BTreeMap<String, Labels>,
    problems: Vec<String>,
}

impl Checker<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, expected: Token) -> Result<(), String> {
        match self.next() {
            Some(token) if token == expected => Ok(()),
            other => Err(format!("expected {expected:?}, found {other:?}")),
        }
    }

    fn eat_word(&mut self, words: &[&str]) -> Option<String> {
        match self.peek() {
            Some(Token::Word(word)) if words.contains(&word.as_str()) => {
                let word = word.clone();
                self.at += 1;
                Some(word)
            }
            _ => None,
        }
    }

    /// `(a, b, ...)`: label names.
    fn label_list(&mut self) -> Result<Vec<String>, String> {
        self.expect(Token::Open('('))?;
        let mut labels = Vec::new();
        loop {
            match self.next() {
                Some(Token::Close(')')) => return Ok(labels),
                Some(Token::Comma) => {}
                Some(Token::Word(label)) => labels.push(label),
                other => return Err(format!("expected a label, found {other:?}")),
            }
        }
    }

    /// The labels of `metric`: emitted, or kept by a recording rule; reported when neither.
    fn metric_labels(&mut self, metric: &str) -> Labels {
        if let Some(labels) = self.series.get(metric) {
            return Some(labels.clone());
        }
        if let Some(labels) = self.recorded.get(metric) {
            return labels.clone();
        }
        self.problems
            .push(format!("metric {metric}: not emitted, not recorded"));
        None
    }

    /// Reports each of `labels` that `value`'s series do not carry.
    fn check_labels<'l>(
        &mut self,
        labels: impl IntoIterator<Item = &'l String>,
        value: &Value,
        place: &str,
    ) {
        let Value::Vector(Some(known), metrics) = value else {
            return;
        };
        for label in labels {
            if !known.contains(label) && label != "__name__" {
                let of: Vec<&str> = metrics.iter().map(String::as_str).collect();
                self.problems.push(format!(
                    "label {label} in {place}: not on {}",
                    of.join(", ")
                ));
            }
        }
    }

    fn expr(&mut self) -> Result<Value, String> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Token::Op(op)) if !matches!(*op, "=" | "=~" | "!~" | "@") => op.to_string(),
                Some(Token::Word(word))
                    if ["and", "or", "unless", "atan2"].contains(&word.as_str()) =>
                {
                    word.clone()
                }
                _ => return Ok(left),
            };
            self.at += 1;
            self.eat_word(&["bool"]);
            let matching = match self.eat_word(&["on", "ignoring"]) {
                Some(word) => Some((word == "on", self.label_list()?)),
                None => None,
            };
            let group = match self.eat_word(&["group_left", "group_right"]) {
                Some(word) => {
                    let extra = if self.peek() == Some(&Token::Open('(')) {
                        self.label_list()?
                    } else {
                        Vec::new()
                    };
                    Some((word == "group_left", extra))
                }
                None => None,
            };
            let right = self.unary()?;
            left = self.binary(&op, left, right, matching, group);
        }
    }

    fn binary(
        &mut self,
        op: &str,
        left: Value,
        right: Value,
        matching: Option<(bool, Vec<String>)>,
        group: Option<(bool, Vec<String>)>,
    ) -> Value {
        let (Value::Vector(a, from_a), Value::Vector(b, from_b)) = (&left, &right) else {
            return match (left, right) {
                (vector @ Value::Vector(..), _) | (_, vector @ Value::Vector(..)) => vector,
                _ => Value::Scalar,
            };
        };
        let from: BTreeSet<String> = from_a.union(from_b).cloned().collect();
        let both = |a: &Labels, b: &Labels| match (a, b) {
            (Some(a), Some(b)) => Some(a.intersection(b).cloned().collect::<BTreeSet<_>>()),
            _ => None,
        };
        if let Some((on, labels)) = &matching {
            let place = if *on { "on (...)" } else { "ignoring (...)" };
            self.check_labels(labels, &left, place);
            self.check_labels(labels, &right, place);
        }
        let labels = match (op, &matching, &group) {
            ("and" | "unless", _, _) => a.clone(),
            ("or", _, _) => both(a, b),
            (_, _, Some((keep_left, extra))) => {
                let (kept, other) = if *keep_left {
                    (&left, &right)
                } else {
                    (&right, &left)
                };
                self.check_labels(extra, other, "group_left/group_right (...)");
                match kept {
                    Value::Vector(Some(kept), _) => {
                        Some(kept.iter().chain(extra).cloned().collect())
                    }
                    _ => None,
                }
            }
            (_, Some((true, on)), None) => Some(on.iter().cloned().collect()),
            (_, Some((false, ignoring)), None) => {
                both(a, b).map(|both| both.into_iter().filter(|l| !ignoring.contains(l)).collect())
            }
            (_, None, None) => {
                // One-to-one matching on every label: sides with different labels match nothing.
                if let (Some(a), Some(b)) = (a, b) {
                    if a != b {
                        self.problems.push(format!(
                            "`{op}` matches nothing: {a:?} on one side, {b:?} on the other"
                        ));
                    }
                }
                both(a, b)
            }
        };
        Value::Vector(labels, from)
    }

    fn unary(&mut self) -> Result<Value, String> {
        if matches!(self.peek(), Some(Token::Op("-" | "+"))) {
            self.at += 1;
            return self.unary();
        }
        let value = self.primary()?;
        // A range, an offset, an `@` time.
        loop {
            match self.peek() {
                Some(Token::Open('[')) => {
                    while !matches!(self.next(), Some(Token::Close(']')) | None) {}
                }
                Some(Token::Word(word)) if word == "offset" => {
                    self.at += 1;
                    self.eat_sign();
                    self.expect(Token::Number)?;
                }
                Some(Token::Op("@")) => {
                    self.at += 1;
                    if self.eat_word(&["start", "end"]).is_some() {
                        self.expect(Token::Open('('))?;
                        self.expect(Token::Close(')'))?;
                    } else {
                        self.eat_sign();
                        self.expect(Token::Number)?;
                    }
                }
                _ => return Ok(value),
            }
        }
    }

    fn eat_sign(&mut self) {
        if matches!(self.peek(), Some(Token::Op("-" | "+"))) {
            self.at += 1;
        }
    }

    fn primary(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Token::Number) => Ok(Value::Scalar),
            Some(Token::Text(text)) => Ok(Value::Text(text)),
            Some(Token::Open('(')) => {
                let value = self.expr()?;
                self.expect(Token::Close(')'))?;
                Ok(value)
            }
            Some(Token::Open('{')) => {
                self.problems
                    .push("a selector without a metric name".to_owned());
                self.matchers(None)?;
                Ok(Value::Vector(None, BTreeSet::new()))
            }
            Some(Token::Word(word)) => {
                let call = self.peek() == Some(&Token::Open('('));
                if AGGREGATIONS.contains(&word.as_str()) {
                    self.aggregation(&word)
                } else if call {
                    if !FUNCTIONS.contains(&word.as_str()) {
                        self.problems.push(format!("function {word}: not PromQL"));
                    }
                    self.function(&word)
                } else if KEYWORDS.contains(&word.as_str()) {
                    Err(format!("unexpected `{word}`"))
                } else if ["inf", "nan"].contains(&word.to_ascii_lowercase().as_str()) {
                    Ok(Value::Scalar)
                } else {
                    let labels = self.metric_labels(&word);
                    let value = Value::Vector(labels, BTreeSet::from([word.clone()]));
                    if self.peek() == Some(&Token::Open('{')) {
                        self.at += 1;
                        self.matchers(Some(&value))?;
                    }
                    Ok(value)
                }
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }

    /// `label="value", ...}` after a selector's `{`, each label checked against `metric`.
    fn matchers(&mut self, metric: Option<&Value>) -> Result<(), String> {
        loop {
            match self.next() {
                Some(Token::Close('}')) => return Ok(()),
                Some(Token::Comma) => {}
                Some(Token::Word(label)) => {
                    match self.next() {
                        Some(Token::Op("=" | "!=" | "=~" | "!~")) => {}
                        other => {
                            return Err(format!(
                                "expected a matcher after {label}, found {other:?}"
                            ))
                        }
                    }
                    match self.next() {
                        Some(Token::Text(_)) => {}
                        other => {
                            return Err(format!("expected a string after {label}, found {other:?}"))
                        }
                    }
                    if let Some(metric) = metric {
                        self.check_labels([&label], metric, "a selector");
                    }
                }
                other => return Err(format!("expected a label matcher, found {other:?}")),
            }
        }
    }

    /// The arguments of a call, after its name.
    fn arguments(&mut self) -> Result<Vec<Value>, String> {
        self.expect(Token::Open('('))?;
        let mut values = Vec::new();
        if self.peek() == Some(&Token::Close(')')) {
            self.at += 1;
            return Ok(values);
        }
        loop {
            values.push(self.expr()?);
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::Close(')')) => return Ok(values),
                other => return Err(format!("expected `,` or `)`, found {other:?}")),
            }
        }
    }

    fn aggregation(&mut self, name: &str) -> Result<Value, String> {
        let mut grouping = self.grouping()?;
        let arguments = self.arguments()?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        // The series aggregated: the last argument (`topk(5, x)`, `quantile(0.9, x)`).
        let inner = arguments.last().cloned().unwrap_or(Value::Scalar);
        let Value::Vector(labels, from) = &inner else {
            return Err(format!("{name} over no series"));
        };
        let labels = match &grouping {
            Some((by, list)) => {
                self.check_labels(list, &inner, if *by { "by (...)" } else { "without (...)" });
                if *by {
                    Some(list.iter().cloned().collect())
                } else {
                    labels.as_ref().map(|labels| {
                        labels
                            .iter()
                            .filter(|l| !list.contains(l))
                            .cloned()
                            .collect()
                    })
                }
            }
            None if SELECTING.contains(&name) => labels.clone(),
            None => Some(BTreeSet::new()),
        };
        Ok(Value::Vector(labels, from.clone()))
    }

    /// `by (...)` or `without (...)`, if there.
    fn grouping(&mut self) -> Result<Option<(bool, Vec<String>)>, String> {
        match self.eat_word(&["by", "without"]) {
            Some(word) => Ok(Some((word == "by", self.label_list()?))),
            None => Ok(None),
        }
    }

    fn function(&mut self, name: &str) -> Result<Value, String> {
        let arguments = self.arguments()?;
        let first_vector = arguments
            .iter()
            .find(|value| matches!(value, Value::Vector(..)))
            .cloned();
        Ok(match name {
            "scalar" | "time" | "pi" => Value::Scalar,
            "vector" => Value::vector(BTreeSet::new()),
            "absent" | "absent_over_time" => Value::Vector(None, BTreeSet::new()),
            "histogram_quantile" | "histogram_fraction" => match first_vector {
                Some(Value::Vector(labels, from)) => Value::Vector(
                    labels.map(|labels| labels.into_iter().filter(|l| l != "le").collect()),
                    from,
                ),
                _ => return Err(format!("{name} over no series")),
            },
            // The destination label is added.
            "label_replace" | "label_join" => match (first_vector, arguments.get(1)) {
                (Some(Value::Vector(labels, from)), Some(Value::Text(target))) => Value::Vector(
                    labels.map(|mut labels| {
                        labels.insert(target.clone());
                        labels
                    }),
                    from,
                ),
                _ => return Err(format!("{name}(series, \"label\", ...) expected")),
            },
            _ => first_vector.unwrap_or(Value::Scalar),
        })
    }
}

/// What is wrong with `text`'s rules, given the series emitted: each problem as
/// `rule: what`; empty when every metric, label and `$labels.x` is emitted where used.
fn check_rules(text: &str, series: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut recorded: BTreeMap<String, Labels> = BTreeMap::new();
    let mut problems = Vec::new();
    for rule in rules(text) {
        if rule.expr.is_empty() {
            problems.push(format!("{}: no expression", rule.name));
            continue;
        }
        let mut checker = Checker {
            tokens: Vec::new(),
            at: 0,
            series,
            recorded: &recorded,
            problems: Vec::new(),
        };
        let value = tokenize(&rule.expr).and_then(|tokens| {
            checker.tokens = tokens;
            let value = checker.expr()?;
            match checker.peek() {
                None => Ok(value),
                Some(token) => Err(format!("unexpected {token:?}")),
            }
        });
        let value = match value {
            Ok(value) => value,
            Err(error) => {
                problems.push(format!("{}: unreadable expression: {error}", rule.name));
                continue;
            }
        };
        checker.check_labels(&rule.annotation_labels, &value, "the annotations ($labels)");
        problems.extend(
            (checker.problems.into_iter()).map(|problem| format!("{}: {problem}", rule.name)),
        );
        if rule.recorded {
            let labels = match value {
                Value::Vector(labels, _) => labels,
                Value::Scalar | Value::Text(_) => Some(BTreeSet::new()),
            };
            recorded.insert(rule.name, labels);
        }
    }
    problems
}

fn rules_file() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RULES)).unwrap()
}

/// `text` with `from` replaced once by `to`, which must be there.
fn edited(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{RULES} no longer has {from:?}");
    text.replacen(from, to, 1)
}

#[tokio::test]
async fn the_rules_name_only_what_the_library_emits() {
    let capture = capture();
    let server = RedisServer::start();
    workload(&server).await;
    let series = emitted(&capture);
    assert!(
        series.contains_key("db_client_operation_duration_seconds_bucket")
            && series.contains_key("db_client_connection_timeouts_total"),
        "the workload records the operation and pool metrics: {series:#?}"
    );

    let text = rules_file();
    assert!(
        rules(&text).len() >= 10,
        "the rules are read: {:#?}",
        rules(&text)
    );
    let problems = check_rules(&text, &series);
    assert!(
        problems.is_empty(),
        "{RULES} names what is not emitted: {problems:#?}"
    );

    // The same file with plausible mistakes: each is reported, and nothing else.
    let mistaken = edited(
        &text,
        // A metric with no selector after it, misspelled.
        "expr: redis_trace:pool_timeouts:rate5m > 0",
        "expr: db_client_connection_timeout_total > 0",
    );
    let mistaken = edited(
        &mistaken,
        // An invented label in a selector.
        "db_client_operation_duration_seconds_count{error_type!=\"\"}",
        "db_client_operation_duration_seconds_count{error_kind!=\"\"}",
    );
    let mistaken = edited(
        &mistaken,
        // A label of another metric of the same rule (pooled labels would let it pass).
        "sum by (db_query_summary) (rate(redis_trace_cache_requests_total[5m]))",
        "sum by (db_query_summary) (rate(redis_trace_cache_requests_total{error_type=\"\"}[5m]))
           + on (db_query_summary) sum by (db_query_summary) (rate(db_client_operation_duration_seconds_count{error_type=\"\"}[5m]))",
    );
    let mistaken = edited(
        &mistaken,
        // A label the recorded series does not keep (only its selector names it).
        "more than 1 % of calls fail",
        "more than 1 % of calls fail with {{ $labels.error_type }}",
    );
    assert_eq!(
        check_rules(&mistaken, &series),
        [
            "redis_trace:operation_errors:ratio_by_summary: label error_kind in a selector: not on \
             db_client_operation_duration_seconds_count",
            "redis_trace:cache_hit:ratio_by_summary: label error_type in a selector: not on \
             redis_trace_cache_requests_total",
            "RedisKeyPatternErrors: label error_type in the annotations ($labels): not on \
             redis_trace:operation_errors:ratio_by_summary",
            "RedisPoolTimeouts: metric db_client_connection_timeout_total: not emitted, not \
             recorded",
        ]
    );
}

#[test]
fn the_check_reads_promql() {
    let series: BTreeMap<String, BTreeSet<String>> = [
        ("requests_total", &["cache_hit", "db_query_summary"][..]),
        (
            "duration_seconds_bucket",
            &["le", "db_query_summary", "error_type"][..],
        ),
    ]
    .into_iter()
    .map(|(name, labels)| {
        let labels = labels.iter().map(|label| (*label).to_owned()).collect();
        (name.to_owned(), labels)
    })
    .collect();
    let check = |expr: &str| check_rules(&format!("  - record: r\n    expr: {expr}\n"), &series);

    // Functions, aggregations, modifiers, numbers and durations are no metrics.
    for expr in [
        "sum by (db_query_summary) (rate(requests_total{cache_hit=\"true\"}[5m])) / sum by \
         (db_query_summary) (rate(requests_total[5m] offset 1h))",
        "histogram_quantile(0.99, sum(rate(duration_seconds_bucket[5m])) by (le)) > bool 1e-3",
        "max without (error_type) (duration_seconds_bucket) and on (db_query_summary) requests_total",
        "topk(5, -requests_total) or vector(0)",
    ] {
        assert_eq!(check(expr), Vec::<String>::new(), "{expr}");
    }
    // A bare metric, a `by` label of the series aggregated, an unknown function, sides that
    // cannot match, a parse error.
    for (expr, problem) in [
        (
            "requests > 0",
            "r: metric requests: not emitted, not recorded",
        ),
        (
            "sum by (error_type) (rate(requests_total[5m]))",
            "r: label error_type in by (...): not on requests_total",
        ),
        ("rates(requests_total[5m])", "r: function rates: not PromQL"),
        (
            "sum by (le) (duration_seconds_bucket) / sum by (cache_hit) (requests_total)",
            "r: `/` matches nothing: {\"le\"} on one side, {\"cache_hit\"} on the other",
        ),
        (
            "sum by (le (x)",
            "r: unreadable expression: expected a label, found Some(Open('('))",
        ),
    ] {
        assert_eq!(check(expr), [problem], "{expr}");
    }
    // An alert's `$labels` are those of its series.
    let alert = "  - alert: A\n    expr: sum by (cache_hit) (requests_total) > 0\n    \
                 annotations:\n      summary: \"{{ $labels.cache_hit }} {{ $labels.db_query_summary }}\"\n";
    assert_eq!(
        check_rules(alert, &series),
        ["A: label db_query_summary in the annotations ($labels): not on requests_total"]
    );
}
