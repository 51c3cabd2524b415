//! What a traced connection's sends carry: the trace context in the command (the payload of a
//! `PUBLISH` in an envelope, carrier fields on an `XADD`), and the id Redis gave the entry.

use opentelemetry::Context;
use redis::{Arg, Cmd, Value};
use redis_trace_commands::MessagingRole;

use super::{carrier, envelope};

/// `cmd` carrying the trace context of `cx`: the payload of a `PUBLISH` in an envelope, the
/// carrier fields appended to an `XADD`. `None` when there is nothing to carry.
pub(crate) fn with_context(cmd: &Cmd, role: MessagingRole, cx: &Context) -> Option<Cmd> {
    let fields = carrier::inject(cx);
    if fields.is_empty() {
        return None;
    }
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .map(|arg| match arg {
            Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .collect::<Option<_>>()?;
    match role {
        MessagingRole::Publish => {
            let [name, channel, payload] = args.as_slice() else {
                return None;
            };
            let wrapped = envelope::wrap(&fields, payload)?;
            let mut carrying = Cmd::with_capacity(3, name.len() + channel.len() + wrapped.len());
            carrying.arg(*name).arg(*channel).arg(wrapped);
            Some(carrying)
        }
        MessagingRole::Append => {
            // Room for every argument and field: no regrowth while it is written.
            let size = (args.iter().map(|arg| arg.len()).sum::<usize>())
                + (fields.iter())
                    .map(|(name, value)| name.len() + value.len())
                    .sum::<usize>();
            let mut carrying = Cmd::with_capacity(args.len() + 2 * fields.len(), size);
            for arg in &args {
                carrying.arg(*arg);
            }
            for (name, value) in &fields {
                carrying.arg(name.as_str()).arg(value.as_str());
            }
            Some(carrying)
        }
        MessagingRole::Read | MessagingRole::Acknowledge => None,
    }
}

/// `XADD`'s reply: the id of the entry it added.
pub(crate) fn message_id(reply: &Value) -> Option<String> {
    match reply {
        Value::BulkString(id) => Some(String::from_utf8_lossy(id).into_owned()),
        Value::SimpleString(id) => Some(id.clone()),
        _ => None,
    }
}

/// The trace context a send carries: its span's, else the current one.
pub(crate) fn sending_context(span: Option<&Context>) -> Context {
    span.cloned().unwrap_or_else(Context::current)
}
