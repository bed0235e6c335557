//! The Deployment strategies and scaling, as `rolling.go`, `recreate.go` and `sync.go`:
//! RollingUpdate grows the new ReplicaSet within maxSurge and shrinks old ones within
//! maxUnavailable (unhealthy old pods first); Recreate empties the old ReplicaSets, waits for
//! their pods to go, then fills the new one; a replica change or a paused Deployment scales
//! every active ReplicaSet proportionally.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::util::*;
use super::{DeploymentController, Sets};
use crate::podutil;
use crate::queue::ReconcileResult;
use crate::ControllerError;

/// `NewRSNewReplicas`: how big the new ReplicaSet may be now.
pub fn new_rs_replicas(d: &Value, all: &Sets, new_rs: Option<&Arc<Value>>) -> i64 {
    let current_new = new_rs.map_or(0, |rs| replicas(rs));
    if !is_rolling(d) {
        return replicas(d);
    }
    let current_total = spec_replicas(all);
    let max_total = replicas(d) + max_surge(d);
    if current_total >= max_total {
        return current_new;
    }
    let up = (max_total - current_total).min(replicas(d) - current_new);
    current_new + up.max(0)
}

impl DeploymentController {
    pub(super) async fn rollout_rolling(&self, d: &Value, sets: Sets) -> ReconcileResult {
        let (new_rs, old) = self.new_and_old(d, &sets, true).await?;
        let Some(new_rs) = new_rs else {
            return Err(gone());
        };
        let mut all: Sets = old.clone();
        all.push(new_rs.clone());
        // Scale up the new ReplicaSet.
        let want = replicas(d);
        let target = if replicas(&new_rs) > want {
            want
        } else {
            new_rs_replicas(d, &all, Some(&new_rs))
        };
        if target != replicas(&new_rs) {
            let scaled = self.scale_rs(d, &new_rs, target).await?;
            let mut all = old.clone();
            all.push(scaled.clone());
            return self.sync_rollout_status(d, &all, Some(&scaled)).await;
        }
        // Scale down old ReplicaSets.
        let old = self.reconcile_old(d, &all, old, &new_rs).await?;
        let mut all = old.clone();
        all.push(new_rs.clone());
        let status = super::status::calculate(d, &all, Some(&new_rs), self.api.clock.wall());
        if super::status::complete(d, &status) {
            self.cleanup(d, &old).await?;
        }
        self.sync_rollout_status(d, &all, Some(&new_rs)).await
    }

    /// `reconcileOldReplicaSets`; returns the old ReplicaSets as written.
    async fn reconcile_old(
        &self,
        d: &Value,
        all: &Sets,
        mut old: Sets,
        new_rs: &Arc<Value>,
    ) -> Result<Sets, ControllerError> {
        let old_pods = spec_replicas(&old);
        if old_pods == 0 {
            return Ok(old);
        }
        let all_pods = spec_replicas(all);
        let min_available = replicas(d) - max_unavailable(d);
        let new_unavailable =
            replicas(new_rs) - new_rs["status"]["availableReplicas"].as_i64().unwrap_or(0);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(old);
        }
        // Old pods that are not available go first: they count for nothing.
        sort_oldest_first(&mut old);
        let mut cleaned = 0;
        for rs in old.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            let available = rs["status"]["availableReplicas"].as_i64().unwrap_or(0);
            if replicas(rs) == 0 || replicas(rs) == available {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(replicas(rs) - available);
            *rs = self.scale_rs(d, rs, replicas(rs) - down).await?;
            cleaned += down;
        }
        // Then available ones, keeping minAvailable.
        let mut all_now = old.clone();
        all_now.push(new_rs.clone());
        let available = status_count(&all_now, "availableReplicas");
        if available <= min_available {
            return Ok(old);
        }
        let total_down = available - min_available;
        let mut done = 0;
        for rs in old.iter_mut() {
            if done >= total_down {
                break;
            }
            if replicas(rs) == 0 {
                continue;
            }
            let down = replicas(rs).min(total_down - done);
            *rs = self.scale_rs(d, rs, replicas(rs) - down).await?;
            done += down;
        }
        Ok(old)
    }

    pub(super) async fn rollout_recreate(&self, d: &Value, sets: Sets) -> ReconcileResult {
        let (new_rs, mut old) = self.new_and_old(d, &sets, false).await?;
        let mut scaled_down = false;
        for rs in old.iter_mut() {
            if replicas(rs) > 0 {
                *rs = self.scale_rs(d, rs, 0).await?;
                scaled_down = true;
            }
        }
        let mut all = old.clone();
        all.extend(new_rs.clone());
        if scaled_down {
            return self.sync_rollout_status(d, &all, new_rs.as_ref()).await;
        }
        let old_running = old.iter().any(|rs| {
            rs["status"]["replicas"].as_i64().unwrap_or(0) > 0
                || self
                    .pods_of(rs)
                    .iter()
                    .any(|p| !matches!(podutil::phase(p), "Succeeded" | "Failed"))
        });
        if old_running {
            return self.sync_rollout_status(d, &all, new_rs.as_ref()).await;
        }
        let (new_rs, old) = match new_rs {
            Some(rs) => (rs, old),
            None => {
                let (n, o) = self.new_and_old(d, &sets, true).await?;
                (n.ok_or_else(gone)?, o)
            }
        };
        let new_rs = self.scale_rs(d, &new_rs, replicas(d)).await?;
        let mut all = old.clone();
        all.push(new_rs.clone());
        let status = super::status::calculate(d, &all, Some(&new_rs), self.api.clock.wall());
        if super::status::complete(d, &status) {
            self.cleanup(d, &old).await?;
        }
        self.sync_rollout_status(d, &all, Some(&new_rs)).await
    }

    /// `sync`: a scaling event or a paused Deployment — proportional scaling, no rollout.
    pub(super) async fn sync_scale(&self, d: &Value, sets: Sets) -> ReconcileResult {
        let (new_rs, old) = self.new_and_old(d, &sets, false).await?;
        let mut all = self.scale(d, new_rs.as_ref(), &old).await?;
        if d["spec"]["paused"] == true {
            self.cleanup(d, &old).await?;
        }
        let new_now = new_rs.as_ref().and_then(|n| {
            all.iter()
                .find(|rs| podutil::uid(rs) == podutil::uid(n))
                .cloned()
        });
        all.sort_by_key(|rs| revision(rs));
        self.write_status(d, &all, new_now.as_ref(), false).await
    }

    pub(super) async fn sync_status_only(&self, d: &Value, sets: Sets) -> ReconcileResult {
        let (new_rs, old) = self.new_and_old(d, &sets, false).await?;
        let mut all = old;
        all.extend(new_rs.clone());
        self.write_status(d, &all, new_rs.as_ref(), false).await
    }

    /// `scale`: proportional scaling of the active ReplicaSets; returns every ReplicaSet as
    /// written.
    async fn scale(
        &self,
        d: &Value,
        new_rs: Option<&Arc<Value>>,
        old: &Sets,
    ) -> Result<Sets, ControllerError> {
        let mut all: Sets = old.clone();
        all.extend(new_rs.cloned());
        let active_sets = active(&all);
        // One active (or the newest) ReplicaSet takes the whole count.
        let only = match active_sets.len() {
            0 => new_rs.cloned().or_else(|| {
                let mut o = old.clone();
                sort_oldest_first(&mut o);
                o.last().cloned()
            }),
            1 => Some(active_sets[0].clone()),
            _ => None,
        };
        if let Some(rs) = only {
            let scaled = self.scale_rs(d, &rs, replicas(d)).await?;
            return Ok(replace(all, scaled));
        }
        let saturated = new_rs.is_some_and(|n| {
            replicas(n) == replicas(d)
                && annotation_i64(n, DESIRED_REPLICAS) == Some(replicas(d))
                && n["status"]["availableReplicas"].as_i64().unwrap_or(0) == replicas(d)
        });
        if saturated {
            for rs in active(old) {
                let scaled = self.scale_rs(d, &rs, 0).await?;
                all = replace(all, scaled);
            }
            return Ok(all);
        }
        if !is_rolling(d) {
            return Ok(all);
        }
        let mut sets = active_sets;
        let allowed = if replicas(d) > 0 {
            replicas(d) + max_surge(d)
        } else {
            0
        };
        let to_add = allowed - spec_replicas(&sets);
        // Growing favours the largest (then newest); shrinking the largest (then oldest).
        sets.sort_by(|a, b| {
            replicas(b).cmp(&replicas(a)).then_with(|| {
                if to_add > 0 {
                    created(b).cmp(&created(a))
                } else {
                    created(a).cmp(&created(b))
                }
            })
        });
        let mut sizes: HashMap<String, i64> = HashMap::new();
        let mut added = 0;
        for rs in &sets {
            let proportion = if to_add != 0 {
                proportion(rs, d, to_add, added)
            } else {
                0
            };
            sizes.insert(podutil::uid(rs).to_string(), replicas(rs) + proportion);
            added += proportion;
        }
        if added != to_add {
            if let Some(first) = sets.first() {
                let e = sizes.entry(podutil::uid(first).to_string()).or_default();
                *e = (*e + to_add - added).max(0);
            }
        }
        for rs in sets {
            let size = sizes[podutil::uid(&rs)];
            let scaled = self.scale_rs(d, &rs, size).await?;
            all = replace(all, scaled);
        }
        Ok(all)
    }
}

/// The new ReplicaSet went away while this sync ran: the next one starts over.
fn gone() -> ControllerError {
    ControllerError::Invalid("the new ReplicaSet was deleted during the sync".into())
}

/// `GetProportion`: this ReplicaSet's share of the replicas to add (or remove).
fn proportion(rs: &Value, d: &Value, to_add: i64, added: i64) -> i64 {
    if replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = if replicas(d) == 0 {
        -replicas(rs)
    } else {
        let total = replicas(d) + max_surge(d);
        let annotated = annotation_i64(rs, MAX_REPLICAS)
            .unwrap_or_else(|| d["status"]["replicas"].as_i64().unwrap_or(0))
            .max(1);
        ((replicas(rs) * total) as f64 / annotated as f64).round() as i64 - replicas(rs)
    };
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

fn replace(all: Sets, updated: Arc<Value>) -> Sets {
    all.into_iter()
        .map(|rs| {
            if podutil::uid(&rs) == podutil::uid(&updated) {
                updated.clone()
            } else {
                rs
            }
        })
        .collect()
}
