//! The fleet's driver: one task that sleeps on the clock until the next timed transition
//! (boot, spot interruption, end of shutdown, purge) and runs every transition due then as
//! one batch — one store transaction per batch, not one per instance, so a thousand
//! instances booting together cost a handful of writes.

use std::sync::Arc;

use keks_core::{Clock, ClockExt};

use super::{Fleet, Inner, Instance, InstanceEventKind, InstanceState, StateReason, Step};

/// Starts the driver on the current tokio runtime. It holds the fleet weakly and ends once
/// every handle is gone.
pub(super) fn spawn(fleet: &Fleet) {
    let weak = Arc::downgrade(&fleet.inner);
    let wake = fleet.inner.wake.clone();
    let clock = fleet.inner.clock.clone();
    tokio::spawn(async move {
        loop {
            let next = match weak.upgrade() {
                Some(inner) => inner.timers.lock().queue.keys().next().map(|k| k.0),
                None => return,
            };
            match next {
                Some(at) if at <= clock.now() => {}
                Some(at) => {
                    tokio::select! {
                        _ = clock.sleep_until(at) => {}
                        _ = wake.notified() => continue,
                    }
                }
                None => {
                    wake.notified().await;
                    continue;
                }
            }
            let Some(inner) = weak.upgrade() else { return };
            run_due(Fleet { inner }).await;
        }
    });
}

/// Takes every transition due by now off the queue and runs them.
async fn run_due(fleet: Fleet) {
    let now = fleet.inner.clock.now();
    let due: Vec<(String, Step)> = {
        let mut timers = fleet.inner.timers.lock();
        let later = timers.queue.split_off(&(now, u64::MAX));
        std::mem::replace(&mut timers.queue, later)
            .into_values()
            .collect()
    };
    let of = |step: Step| -> Vec<String> {
        due.iter()
            .filter(|(_, s)| *s == step)
            .map(|(id, _)| id.clone())
            .collect()
    };
    let (boot, interrupt, finish, purge) = (
        of(Step::Boot),
        of(Step::Interrupt),
        of(Step::Finish),
        of(Step::Purge),
    );
    if let Err(e) = boot_instances(&fleet, &boot).await {
        tracing::warn!(error = %e, "booting instances failed");
    }
    if !interrupt.is_empty() {
        let live: Vec<String> = interrupt
            .into_iter()
            .filter(|id| fleet.instance(id).is_some_and(|i| i.state.is_live()))
            .collect();
        if let Err(e) = fleet
            .terminate_with(&live, StateReason::spot_termination())
            .await
        {
            tracing::warn!(error = %e, "terminating interrupted spot instances failed");
        }
    }
    if let Err(e) = finish_instances(&fleet, &finish).await {
        tracing::warn!(error = %e, "finishing terminations failed");
    }
    if let Err(e) = purge_instances(&fleet, &purge).await {
        tracing::warn!(error = %e, "forgetting terminated instances failed");
    }
}

/// Picks the instances among `ids` still in `state`, updated by `change`.
fn those_in(
    inner: &Inner,
    ids: &[String],
    state: InstanceState,
    change: impl Fn(&mut Instance),
) -> Vec<Instance> {
    let current = inner.state.read();
    ids.iter()
        .filter_map(|id| current.instances.get(id))
        .filter(|i| i.state == state)
        .map(|i| {
            let mut next = i.clone();
            change(&mut next);
            next
        })
        .collect()
}

async fn boot_instances(fleet: &Fleet, ids: &[String]) -> Result<(), super::InstanceError> {
    if ids.is_empty() {
        return Ok(());
    }
    let writing = fleet.inner.writes.lock().await;
    let now = fleet.inner.clock.wall_unix_seconds_f64();
    let booted = those_in(&fleet.inner, ids, InstanceState::Pending, |i| {
        i.state = InstanceState::Running;
        i.running_since = Some(now);
    });
    fleet.persist(&booted).await?;
    fleet.replace(&booted);
    drop(writing);
    for i in &booted {
        fleet.emit(i, InstanceEventKind::Running);
    }
    if !booted.is_empty() {
        fleet.bump();
    }
    Ok(())
}

async fn finish_instances(fleet: &Fleet, ids: &[String]) -> Result<(), super::InstanceError> {
    if ids.is_empty() {
        return Ok(());
    }
    let writing = fleet.inner.writes.lock().await;
    let now = fleet.inner.clock.wall_unix_seconds_f64();
    let finished = those_in(&fleet.inner, ids, InstanceState::ShuttingDown, |i| {
        i.state = InstanceState::Terminated;
        i.terminated_at = Some(now);
    });
    fleet.persist(&finished).await?;
    fleet.replace(&finished);
    // The record says terminated before the address is free again, so an address is never
    // handed out while an instance that is not terminated still holds it.
    fleet.release_addresses(&finished).await?;
    drop(writing);
    let purge_at = fleet
        .inner
        .clock
        .now()
        .saturating_add(fleet.inner.timing.terminated_retention);
    for i in &finished {
        fleet.schedule(purge_at, i.id.clone(), Step::Purge);
        fleet.emit(i, InstanceEventKind::Terminated);
    }
    if !finished.is_empty() {
        fleet.bump();
    }
    Ok(())
}

async fn purge_instances(fleet: &Fleet, ids: &[String]) -> Result<(), super::InstanceError> {
    if ids.is_empty() {
        return Ok(());
    }
    let _writing = fleet.inner.writes.lock().await;
    let gone = those_in(&fleet.inner, ids, InstanceState::Terminated, |_| {});
    for chunk in gone.chunks(super::TXN_CHUNK) {
        let ops: Vec<keks_store::TxnOp> = chunk
            .iter()
            .map(|i| keks_store::TxnOp::delete(format!("{}{}", fleet.inner.prefix, i.id)))
            .collect();
        fleet
            .inner
            .store
            .txn(keks_store::Txn::new().and_then(ops))
            .await?;
    }
    let now = fleet.inner.clock.wall_unix_seconds_f64();
    let mut state = fleet.inner.state.write();
    for i in &gone {
        state.instances.remove(&i.id);
        if let Some(g) = &i.group {
            *state.retired_cost.entry(g.clone()).or_default() += i.cost_usd(now);
            if let Some(members) = state.by_group.get_mut(g) {
                members.remove(&i.id);
                if members.is_empty() {
                    state.by_group.remove(g);
                }
            }
        }
    }
    Ok(())
}
