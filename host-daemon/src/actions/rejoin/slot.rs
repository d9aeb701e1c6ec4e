//! `Action::EnsureSlot` (rule `standby-slot`): a standby streams through a physical slot
//! named after it on the primary. A rejoin creates it; a standby built by hand without
//! one gets it here: the slot on the peer unless it exists (reserving WAL at once), then
//! `primary_slot_name` on this server (`ALTER SYSTEM`, reload: PostgreSQL restarts its
//! WAL receiver with it) unless already so. Idempotent: a second run changes nothing.

use tokio::time::Instant as TokioInstant;

use super::{connect_local, create_slot, slot_name, RejoinError, RejoinPlan, QUERY_BOUND};

/// Makes sure of this standby's slot by `deadline`; returns the slot's name and whether
/// `primary_slot_name` had to be set.
pub(crate) async fn ensure_slot(
    plan: &RejoinPlan,
    deadline: TokioInstant,
) -> Result<(String, bool), RejoinError> {
    let slot = slot_name(&plan.source.application_name);
    let bound = deadline.saturating_duration_since(TokioInstant::now());
    let work = async {
        create_slot(&plan.source, &slot).await?;
        let local = |e: tokio_postgres::Error| {
            RejoinError::Local(
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
            )
        };
        let (client, task) = connect_local(&plan.local, bound.min(QUERY_BOUND))
            .await
            .map_err(local)?;
        let current: String = client
            .query_one("SELECT current_setting('primary_slot_name')", &[])
            .await
            .map_err(local)?
            .get(0);
        let changed = current != slot;
        if changed {
            // A slot name is lower-case letters, digits and `_` (`slot_name`): no quoting
            // issue in the statement. `ALTER SYSTEM` runs alone (not in a transaction
            // block, which a multi-statement batch is).
            client
                .batch_execute(&format!("ALTER SYSTEM SET primary_slot_name = '{slot}'"))
                .await
                .map_err(local)?;
            client
                .batch_execute("SELECT pg_reload_conf()")
                .await
                .map_err(local)?;
        }
        drop(client);
        let _ = task.await;
        Ok((slot.clone(), changed))
    };
    tokio::time::timeout(bound, work)
        .await
        .map_err(|_| RejoinError::Local(format!("no answer within {bound:?}")))?
}
