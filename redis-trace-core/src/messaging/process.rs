//! A delivered message (a pub/sub message, a stream entry) handled under a CONSUMER span.

use std::future::Future;
use std::time::SystemTime;

use opentelemetry::trace::{Link, SpanContext, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::globals::{self, Settings};
use crate::metrics::MessagingInstruments;
use crate::semconv;
use crate::span_names::operation_span_name;

/// Which context a message's `process` span continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageParent {
    /// The producer's: one trace from the publisher to the handler (the default). The span
    /// also links to it.
    #[default]
    Producer,
    /// The consumer's current context; the span links to the producer's.
    Current,
}

/// What the consumer span and metrics of one delivery say.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// The channel or stream, raw (rendered by the key policy when recorded).
    pub(crate) destination: Vec<u8>,
    /// The pattern a pub/sub message matched.
    pub(crate) template: Option<String>,
    /// A stream entry's id.
    pub(crate) id: Option<String>,
    pub(crate) body_size: Option<usize>,
    pub(crate) producer: Producer,
    pub(crate) parent: MessageParent,
    pub(crate) endpoint: Option<Endpoint>,
    /// The destination as recorded, rendered once (the span and two metrics show it).
    pub(crate) rendered: std::sync::OnceLock<opentelemetry::StringValue>,
}

/// The producer's span context: known (a stream entry's), or read from a pub/sub envelope's
/// carrier when first asked (a message handled with nothing recorded never parses it).
#[derive(Debug, Clone)]
pub(crate) enum Producer {
    Known(Option<SpanContext>),
    Carried(Vec<u8>, std::sync::OnceLock<Option<SpanContext>>),
}

impl Producer {
    pub(crate) fn get(&self) -> Option<&SpanContext> {
        match self {
            Self::Known(known) => known.as_ref(),
            Self::Carried(carrier, read) => read
                .get_or_init(|| super::envelope::context_of(carrier))
                .as_ref(),
        }
    }
}

impl Delivery {
    /// Runs `handle` under the CONSUMER span `process {destination}`, current while it runs,
    /// linked to the producer's span (and its child with `MessageParent::Producer`); records
    /// `messaging.process.duration`.
    pub(crate) async fn process<F: Future>(&self, handle: F) -> F::Output {
        if globals::nothing_to_record() {
            // No span to make current, no duration to measure.
            return handle.await;
        }
        let started = SystemTime::now();
        let span = self.start_span(started);
        let cx = span.clone().unwrap_or_else(Context::current);
        let output = opentelemetry::context::FutureExt::with_context(handle, cx).await;
        self.end_process(span, started);
        output
    }

    /// [`Delivery::process`] for a blocking handler.
    pub(crate) fn process_blocking<R>(&self, handle: impl FnOnce() -> R) -> R {
        if globals::nothing_to_record() {
            return handle();
        }
        let started = SystemTime::now();
        let span = self.start_span(started);
        let output = {
            let _current = span.clone().map(Context::attach);
            handle()
        };
        self.end_process(span, started);
        output
    }

    /// Ends the `process` span and records `messaging.process.duration`.
    fn end_process(&self, span: Option<Context>, started: SystemTime) {
        let ended = SystemTime::now();
        if let Some(cx) = span {
            cx.span().end_with_timestamp(ended);
        }
        let seconds = ended
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64();
        self.record("process", |instruments, attributes| {
            instruments.process.record(seconds, attributes);
        });
    }

    /// One in `messaging.client.consumed.messages`.
    pub(crate) fn count_consumed(&self) {
        self.record("receive", |instruments, attributes| {
            instruments.consumed.add(1, attributes);
        });
    }

    fn start_span(&self, started: SystemTime) -> Option<Context> {
        if globals::nothing_to_record() {
            return None;
        }
        let now = globals::snapshot();
        let slot = &now.tracer;
        let tracer = slot.tracer()?;
        let settings = &now.settings;
        let producer = self.producer.get();
        let parent = match (producer, self.parent) {
            (Some(producer), MessageParent::Producer) => {
                Context::current().with_remote_span_context(producer.clone())
            }
            _ => Context::current(),
        };
        let mut attributes = self.attributes(settings);
        attributes.push(KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, "process"));
        attributes.push(KeyValue::new(semconv::MESSAGING_OPERATION_NAME, "process"));
        if let Some(size) = self.body_size {
            let size = i64::try_from(size).unwrap_or(i64::MAX);
            attributes.push(KeyValue::new(semconv::MESSAGING_MESSAGE_BODY_SIZE, size));
        }
        if let Some(id) = &self.id {
            attributes.push(KeyValue::new(semconv::MESSAGING_MESSAGE_ID, id.clone()));
        }
        if let Some(template) = &self.template {
            let template = crate::text::truncate_on_char_boundary(template, 256).to_owned();
            attributes.push(KeyValue::new(
                semconv::MESSAGING_DESTINATION_TEMPLATE,
                template,
            ));
        }
        let links = (producer.iter())
            .map(|producer| Link::with_context((*producer).clone()))
            .collect();
        let destination = self.destination(&settings.config);
        // Fields set in place: the builder's methods move it at each step.
        let mut builder = tracer.span_builder(operation_span_name("process", destination.as_str()));
        builder.span_kind = Some(SpanKind::Consumer);
        builder.start_time = Some(started);
        builder.attributes = Some(attributes);
        builder.links = Some(links);
        let span = tracer.build_with_context(builder, &parent);
        // As for commands: a first span that shows the no-op tracer stops the span work.
        globals::observe_span(
            slot,
            parent.span().span_context(),
            opentelemetry::trace::Span::span_context(&span),
            parent.is_telemetry_suppressed(),
        );
        Some(parent.with_span(span))
    }

    /// The destination as the key policy renders it (a channel name can hold ids).
    fn destination(&self, config: &Config) -> opentelemetry::StringValue {
        self.rendered
            .get_or_init(|| {
                let max_len = config.max_key_length();
                crate::intern::render_key(config.key_policy(), &self.destination, max_len)
                    .unwrap_or_else(|| "?".into())
            })
            .clone()
    }

    /// The span's first attributes: what it shares with the metrics.
    fn attributes(&self, settings: &Settings) -> Vec<KeyValue> {
        let destination = self.destination(&settings.config);
        super::measure::delivery_base(&destination, self.server(settings))
    }

    /// The server it came from: its own, else the configured default.
    fn server<'a>(&'a self, settings: &'a Settings) -> Option<&'a Endpoint> {
        (self.endpoint.as_ref()).or(settings.default_endpoint.as_ref())
    }

    /// Records with the shared attributes and `messaging.operation.name` = `operation` (which
    /// the messaging metrics require).
    fn record(
        &self,
        operation: &'static str,
        measure: impl FnOnce(&MessagingInstruments, &[KeyValue]),
    ) {
        super::measure::with_settings_and_instruments(|settings, instruments| {
            let destination = self.destination(&settings.config);
            let server = self.server(settings);
            let attributes = super::measure::delivery_attributes(operation, &destination, server);
            measure(instruments, &attributes);
        });
    }
}
