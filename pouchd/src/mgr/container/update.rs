//! `POST /containers/{id}/update` (`docker update`): new cgroup limits and
//! restart policy, kept in the container's host config and applied at once
//! to a running or paused container's cgroups through containerd.

use super::create::validate_host_config;
use super::state::Status;
use super::ContainerMgr;
use crate::error::{Error, Result};
use pouch_api::container::{ContainerUpdateRequest, HostConfig};

/// Applies `req` to `hc` as Docker does: a zero (or empty) field leaves the
/// setting alone. Returns the warnings for the client.
pub(super) fn apply_update(
    hc: &mut HostConfig,
    req: &ContainerUpdateRequest,
) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    if !req.restart_policy.name.is_empty() {
        if hc.auto_remove && req.restart_policy.name != "no" {
            return Err(Error::invalid(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            ));
        }
        hc.restart_policy = req.restart_policy.clone();
    }
    if req.memory != 0 {
        // The swap limit covers memory too: a memory limit above the swap
        // limit already set needs a new swap limit with it.
        if hc.memory_swap > 0 && req.memory > hc.memory_swap && req.memory_swap == 0 {
            return Err(Error::conflict(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
            ));
        }
        hc.memory = req.memory;
    }
    if req.memory_swap != 0 {
        hc.memory_swap = req.memory_swap;
    }
    if hc.memory_swap > 0 && hc.memory > hc.memory_swap {
        return Err(Error::invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if req.memory_reservation != 0 {
        hc.memory_reservation = req.memory_reservation;
    }
    if req.kernel_memory != 0 {
        warnings.push(
            "Kernel memory limit is deprecated and ignored: the kernel no longer supports it"
                .to_string(),
        );
    }
    if req.cpu_shares != 0 {
        hc.cpu_shares = req.cpu_shares;
    }
    // --cpus and --cpu-period/--cpu-quota replace each other.
    if req.nano_cpus != 0 {
        hc.nano_cpus = req.nano_cpus;
        hc.cpu_period = 0;
        hc.cpu_quota = 0;
    }
    if req.cpu_period != 0 || req.cpu_quota != 0 {
        if req.nano_cpus != 0 {
            return Err(Error::invalid(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        hc.nano_cpus = 0;
        if req.cpu_period != 0 {
            hc.cpu_period = req.cpu_period;
        }
        if req.cpu_quota != 0 {
            hc.cpu_quota = req.cpu_quota;
        }
    }
    if !req.cpuset_cpus.is_empty() {
        hc.cpuset_cpus = req.cpuset_cpus.clone();
    }
    if !req.cpuset_mems.is_empty() {
        hc.cpuset_mems = req.cpuset_mems.clone();
    }
    if req.blkio_weight != 0 {
        if !(10..=1000).contains(&req.blkio_weight) {
            return Err(Error::invalid("Range of blkio weight is from 10 to 1000"));
        }
        hc.blkio_weight = req.blkio_weight;
    }
    if let Some(p) = req.pids_limit {
        // 0 and -1 both mean unlimited.
        hc.pids_limit = Some(if p <= 0 { 0 } else { p });
    }
    validate_host_config(hc)?;
    Ok(warnings)
}

impl ContainerMgr {
    pub async fn update(
        &self,
        reference: &str,
        req: &ContainerUpdateRequest,
    ) -> Result<Vec<String>> {
        let c = self.get(reference)?;
        let _op = c.op.lock().await;
        let m = c.meta();
        if m.state.status == Status::Removing {
            return Err(Error::conflict(format!(
                "Cannot update container {}: it is being removed",
                c.id
            )));
        }
        let mut hc = m.host_config.clone();
        let warnings = apply_update(&mut hc, req)?;
        if m.state.status.is_alive() {
            let resources = super::spec::resources(&hc, Vec::new())?;
            let json = serde_json::to_vec(&resources)?;
            self.rt
                .update_task(&c.id, json)
                .await
                .map_err(|e| Error::system(format!("Cannot update container {}: {e}", c.id)))?;
        }
        c.update(|m| m.host_config = hc);
        self.emit(&c.meta(), "update", &[]);
        self.save(&c).await?;
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::RestartPolicy;

    fn req(f: impl FnOnce(&mut ContainerUpdateRequest)) -> ContainerUpdateRequest {
        let mut r = ContainerUpdateRequest::default();
        f(&mut r);
        r
    }

    #[test]
    fn zero_fields_leave_settings_alone() {
        let mut hc = HostConfig {
            memory: 64 << 20,
            memory_swap: 128 << 20,
            cpu_shares: 512,
            ..Default::default()
        };
        let before = hc.clone();
        apply_update(&mut hc, &ContainerUpdateRequest::default()).unwrap();
        assert_eq!(hc, before);
        apply_update(&mut hc, &req(|r| r.cpu_shares = 1024)).unwrap();
        assert_eq!((hc.cpu_shares, hc.memory), (1024, 64 << 20));
    }

    #[test]
    fn memory_and_swap_rules() {
        let mut hc = HostConfig {
            memory: 64 << 20,
            memory_swap: 128 << 20,
            ..Default::default()
        };
        let err = apply_update(&mut hc, &req(|r| r.memory = 256 << 20)).unwrap_err();
        assert!(
            err.to_string()
                .contains("update the memoryswap at the same time"),
            "{err}"
        );
        apply_update(
            &mut hc,
            &req(|r| {
                r.memory = 256 << 20;
                r.memory_swap = -1;
            }),
        )
        .unwrap();
        assert_eq!((hc.memory, hc.memory_swap), (256 << 20, -1));
        let err = apply_update(&mut hc, &req(|r| r.memory = 1 << 20)).unwrap_err();
        assert!(err.to_string().contains("6MB"), "{err}");
        // Without any limit before, a memory limit needs no swap limit.
        let mut free = HostConfig::default();
        apply_update(&mut free, &req(|r| r.memory = 32 << 20)).unwrap();
        assert_eq!(free.memory, 32 << 20);
    }

    #[test]
    fn cpus_restart_policy_and_pids() {
        let mut hc = HostConfig {
            cpu_period: 50_000,
            cpu_quota: 25_000,
            auto_remove: true,
            ..Default::default()
        };
        apply_update(&mut hc, &req(|r| r.nano_cpus = 500_000_000)).unwrap();
        assert_eq!(
            (hc.nano_cpus, hc.cpu_period, hc.cpu_quota),
            (500_000_000, 0, 0)
        );
        let always = RestartPolicy {
            name: "always".into(),
            maximum_retry_count: 0,
        };
        let err = apply_update(&mut hc, &req(|r| r.restart_policy = always.clone())).unwrap_err();
        assert!(err.to_string().contains("AutoRemove"), "{err}");
        hc.auto_remove = false;
        apply_update(&mut hc, &req(|r| r.restart_policy = always.clone())).unwrap();
        assert_eq!(hc.restart_policy, always);
        apply_update(&mut hc, &req(|r| r.pids_limit = Some(-1))).unwrap();
        assert_eq!(hc.pids_limit, Some(0));
        apply_update(&mut hc, &req(|r| r.pids_limit = Some(50))).unwrap();
        assert_eq!(hc.pids_limit, Some(50));
        assert!(apply_update(&mut hc, &req(|r| r.blkio_weight = 5)).is_err());
        let bad = RestartPolicy {
            name: "sometimes".into(),
            maximum_retry_count: 0,
        };
        assert!(apply_update(&mut hc, &req(|r| r.restart_policy = bad)).is_err());
    }
}
