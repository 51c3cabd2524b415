//! What a messaging command is on a span and a metric: its role (send, receive, settle), its
//! destination, its consumer group and the payload size, read where the command facts of
//! `redis-trace-commands` say they are.

use std::borrow::Cow;

use opentelemetry::{StringValue, Value};
use redis_trace_commands::{messaging_arguments, MessagingRole};

use crate::args::name_text;
use crate::config::Config;
use crate::intern;
use crate::semconv;
use crate::sink::AttributeSink;

/// A messaging command's attributes.
#[derive(Debug, Clone)]
pub(crate) struct MessagingSpec {
    /// Send (`PUBLISH`, `SPUBLISH`, `XADD`), receive (`XREAD`, `XREADGROUP`), settle (`XACK`).
    pub(crate) role: MessagingRole,
    /// The channel or stream, rendered by the key policy.
    pub(crate) destination: Option<StringValue>,
    /// The consumer group.
    pub(crate) group: Option<StringValue>,
    /// The payload's size (`PUBLISH`), without an envelope.
    pub(crate) body_size: Option<usize>,
}

impl MessagingSpec {
    pub(crate) fn sends(&self) -> bool {
        self.role.sends()
    }

    pub(crate) fn receives(&self) -> bool {
        self.role == MessagingRole::Read
    }

    /// `messaging.*` of a span, `messaging.operation.name` being `operation`.
    pub(crate) fn add_attributes(
        &self,
        #[allow(clippy::ptr_arg)] // A `Cow`: a table name stays borrowed in the attribute.
        operation: &Cow<'static, str>,
        sink: &mut impl AttributeSink,
    ) {
        self.add_metric_attributes(operation, sink);
        if let Some(size) = self.body_size {
            sink.add(semconv::MESSAGING_MESSAGE_BODY_SIZE, || {
                Value::I64(i64::try_from(size).unwrap_or(i64::MAX))
            });
        }
    }

    /// `messaging.*` of a metric: no body size (per message, not per destination).
    pub(crate) fn add_metric_attributes(
        &self,
        #[allow(clippy::ptr_arg)] // A `Cow`: a table name stays borrowed in the attribute.
        operation: &Cow<'static, str>,
        sink: &mut impl AttributeSink,
    ) {
        sink.add(semconv::MESSAGING_SYSTEM, || semconv::REDIS.into());
        sink.add(semconv::MESSAGING_OPERATION_TYPE, || {
            self.role.operation_type().into()
        });
        // The table's name is shared, not copied.
        sink.add(semconv::MESSAGING_OPERATION_NAME, || {
            operation.clone().into()
        });
        if let Some(destination) = &self.destination {
            sink.add(semconv::MESSAGING_DESTINATION_NAME, || {
                destination.clone().into()
            });
        }
        if let Some(group) = &self.group {
            sink.add(semconv::MESSAGING_CONSUMER_GROUP_NAME, || {
                group.clone().into()
            });
        }
    }
}

/// The messaging attributes of the command `args`, if it is a messaging command: its role and
/// where its destination, group and payload sit are facts of `redis-trace-commands`.
pub(crate) fn describe(args: &[&[u8]], config: &Config) -> Option<MessagingSpec> {
    let found = messaging_arguments(args)?;
    let argument = |at: Option<usize>| at.and_then(|at| args.get(at));
    // Rendered into the thread's buffer and shared: a repeat allocates nothing.
    let destination = argument(found.destination).and_then(|destination| {
        intern::render_key(config.key_policy(), destination, config.max_key_length())
    });
    Some(MessagingSpec {
        role: found.role,
        destination,
        group: argument(found.group).map(|group| name_text(group)),
        body_size: argument(found.payload).map(|payload| payload.len()),
    })
}
