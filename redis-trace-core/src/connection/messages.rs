//! The messaging commands of a traced connection: what their spans say (`send` for `PUBLISH`,
//! `SPUBLISH`, `XADD`; `receive` for `XREAD`, `XREADGROUP`; `settle` for `XACK`), the trace
//! context they carry when propagation is on, and the receive span, built once the reply shows
//! whether the read returned anything. What each of these is lives in `messaging`; this drives
//! it around the command.

use std::sync::PoisonError;
use std::time::SystemTime;

use opentelemetry::{Context, KeyValue};
use redis::{Cmd, RedisResult, Value};
use redis_trace_commands::MessagingRole;

use super::describe;
use super::{TracedConnection, REMEMBERED_PRODUCERS};
use crate::args::{common_slot, Call, CommandArgs};
use crate::messaging::{
    self, lag_of, message_id, receive_span, received, sending_context, with_context,
    MessageMetrics, Received,
};
use crate::operation::Operation;

impl<C: redis::aio::ConnectionLike + Send> TracedConnection<C> {
    /// A messaging command: a PRODUCER span for a send (carrying the trace context when
    /// propagation is on, recording the id `XADD` returns), a `receive` span built after a
    /// stream read that returned entries (linked to their producers), a `settle` span for
    /// `XACK`.
    pub(super) async fn message_command(
        &mut self,
        role: MessagingRole,
        cmd: &Cmd,
    ) -> RedisResult<Value> {
        // Read once: its arguments and its entry in the command table.
        let call = Call::of(cmd);
        let args = call.args();
        let parent = Context::current();
        let started_at = SystemTime::now();
        let settings = crate::globals::settings();
        let config = &settings.config;
        let propagate = self
            .propagation
            .unwrap_or_else(|| config.propagate_messages());
        // On a cluster, the span names the master of the channel's or stream's slot as its
        // peer (`network.peer.*`), the configured target in `server.*`.
        let (slot, peer) = match self.cluster.clone() {
            Some(nodes) => {
                nodes.discover(&mut self.inner).await;
                let slot = common_slot([args]);
                (slot, nodes.owner(slot))
            }
            None => (None, self.peer.clone()),
        };
        let endpoint = self.endpoint.clone();
        // Described once: for the span (when one is built) and for the messaging metrics.
        let messaging = messaging::describe(args, config);
        let mut operation = Operation::start_command(
            || (),
            |(), config, spec| describe::command_as(&call, slot, config, messaging.clone(), spec),
            |(), config| describe::command_statement(&call, config),
            endpoint.as_ref(),
            peer.as_ref(),
        );
        let carrying = (propagate && role.sends())
            .then(|| {
                let cx = sending_context(operation.span_context());
                with_context(cmd, role, &cx)
            })
            .flatten();
        let sent = carrying.as_ref().unwrap_or(cmd);
        let mut result = operation
            .instrument(self.inner.req_packed_command(sent))
            .await;
        let ended_at = SystemTime::now();
        let endpoint = endpoint.or_else(|| settings.default_endpoint.clone());
        let name = call.operation_name();
        let metrics =
            (messaging.as_ref()).map(|spec| MessageMetrics::new(spec, &name, endpoint.as_ref()));
        if let Some(metrics) = &metrics {
            let seconds = ended_at
                .duration_since(started_at)
                .unwrap_or_default()
                .as_secs_f64();
            let error = match &result {
                Ok(Value::ServerError(error)) => Some(error.code().to_owned()),
                Ok(_) => None,
                Err(error) => Some(
                    crate::failure::Failure::error::<redis::RedisError>(error)
                        .attributes()
                        .error_type
                        .to_string(),
                ),
            };
            metrics.record_duration(seconds, error);
        }
        if let (Some(spec), Some(metrics), Ok(reply)) =
            (messaging.as_ref(), metrics.as_ref(), result.as_mut())
        {
            let failed = matches!(reply, Value::ServerError(_));
            match role {
                MessagingRole::Publish | MessagingRole::Append if !failed => {
                    if let Some(id) = message_id(reply).filter(|_| role == MessagingRole::Append) {
                        operation
                            .set_attribute(KeyValue::new(crate::semconv::MESSAGING_MESSAGE_ID, id));
                    }
                    metrics.count(1);
                }
                MessagingRole::Read if !failed => {
                    let entries = received(reply, propagate);
                    let lags: Vec<f64> = (entries.iter())
                        .filter(|_| config.stream_lag())
                        .filter_map(|entry| lag_of(&entry.id, ended_at))
                        .collect();
                    let max_lag = lags.iter().copied().reduce(f64::max);
                    if !entries.is_empty() || config.trace_empty_polls() {
                        let times = (started_at, ended_at);
                        let at = (endpoint.as_ref(), peer.as_ref());
                        receive_span(spec, &name, at, &parent, times, &entries, max_lag);
                    }
                    metrics.record_lags(&lags);
                    let entries_read = u64::try_from(entries.len()).unwrap_or(u64::MAX);
                    metrics.count(entries_read);
                    self.remember(entries);
                }
                _ => {}
            }
        }
        operation.finish_replies(&result);
        result
    }

    fn remember(&self, entries: Vec<Received>) {
        let mut producers = self
            .producers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for entry in entries {
            if let Some(producer) = entry.producer {
                if producers.len() == REMEMBERED_PRODUCERS {
                    producers.pop_front();
                }
                producers.push_back((entry.id, producer));
            }
        }
    }
}
