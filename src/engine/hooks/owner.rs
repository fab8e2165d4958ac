//! The owner's side of the hooks: starting them with what their templates
//! stand for, journaling each `hook_finished`, and at the run's end waiting
//! for them while taking nothing else.

use super::{Hooks, Prepared, Setup};
use crate::engine::event::{Event, Refusal};
use crate::engine::scheduler::{Msg, Scheduler};

impl Scheduler {
    /// Subscribes the hooks, before the run's first event goes out.
    pub(in crate::engine) fn start_hooks(&mut self) {
        if self.wf.hooks.is_empty() {
            return;
        }
        let mut env: Vec<(String, String)> = self
            .wf
            .env
            .iter()
            .map(|(k, t)| (k.clone(), self.render(t)))
            .collect();
        // A hook's own spans join the run's span, never a TRACEPARENT
        // signalbox itself was started with.
        let run_span = crate::engine::trace_ctx::run_span(self.trace, &self.dir.id);
        env.push((
            "TRACEPARENT".into(),
            crate::engine::trace_ctx::TraceParent::header(self.trace, run_span),
        ));
        let hooks = self
            .wf
            .hooks
            .iter()
            .map(|hook| {
                let mut env = env.clone();
                // The same values a step's templates get (vars, secrets,
                // the run id), through the same code.
                for (r, _) in hook.template.refs() {
                    env.push((r.env_name(), self.ref_value(r)));
                }
                Prepared {
                    hook: hook.clone(),
                    env,
                }
            })
            .collect();
        let folder = std::path::absolute(&self.dir.path).unwrap_or_else(|_| self.dir.path.clone());
        let setup = Setup {
            run_id: self.dir.id.clone(),
            folder,
            workdir: self.options.workdir.clone(),
            unset: self.secrets.env_vars(&self.wf),
            tx: self.tx.clone(),
        };
        let events = self.bus.subscribe();
        self.hooks = Some(Hooks::start(events, hooks, setup));
    }

    pub(in crate::engine) fn hook_finished(&mut self, msg: Msg) {
        let Msg::HookFinished {
            hook,
            on_seq,
            exit_code,
            error,
            duration_ms,
            outcome,
        } = msg
        else {
            return;
        };
        tracing::debug!(hook, on_seq, outcome, "hook finished");
        self.emit(Event::HookFinished {
            hook,
            on_seq,
            exit_code,
            error,
            duration_ms,
        });
    }

    /// After `run_finished`: the hooks on it run (each up to its timeout),
    /// the others are stopped, and every `hook_finished` is journaled.
    /// Commands are refused meanwhile: the run is over.
    pub(in crate::engine) async fn await_hooks(&mut self) {
        let Some(mut hooks) = self.hooks.take() else {
            return;
        };
        hooks.close(self.journal_error.is_none());
        loop {
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(msg) => self.after_end(msg),
                    None => break,
                },
                _ = hooks.done() => break,
            }
        }
        // Whatever the workers sent before they ended is queued here.
        while let Ok(msg) = self.rx.try_recv() {
            self.after_end(msg);
        }
    }

    fn after_end(&mut self, msg: Msg) {
        match msg {
            msg @ Msg::HookFinished { .. } => self.hook_finished(msg),
            Msg::Command {
                reply: Some(reply), ..
            } => {
                let _ = reply.send(Err(Refusal::RunOver));
            }
            Msg::Subscribe(reply) => {
                let _ = reply.send(self.bus.subscribe());
            }
            Msg::Output { line, .. } => self.bus.room().give(line.len()),
            _ => {}
        }
    }
}
