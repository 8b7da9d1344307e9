//! What a canister may learn about itself and its message's circumstances — its id, status,
//! version, controllers, the time, whether execution is replicated, the instruction counters —
//! and what it may set besides memory: the global timer and certified data, and the data
//! certificate a query sees.

use super::{ApiType, R, SystemApi, violation};

impl SystemApi<'_, '_> {
    pub(super) fn canister_self_size(&mut self) -> R<u32> {
        Ok(self.env().canister_id.as_slice().len() as u32)
    }

    pub(super) fn canister_self_copy(&mut self, dst: u32, offset: u32, size: u32) -> R<()> {
        let bytes = self.env().canister_id.as_slice().to_vec();
        self.copy_out("canister_self_copy", dst, offset, size, &bytes)
    }

    pub(super) fn canister_status(&mut self) -> R<u32> {
        Ok(self.env().status)
    }

    pub(super) fn canister_version(&mut self) -> R<u64> {
        Ok(self.env().canister_version)
    }

    pub(super) fn is_controller(&mut self, src: u32, size: u32) -> R<u32> {
        let principal = self.read_principal(src, size, "ic0.is_controller")?;
        Ok(self.env().controllers.contains(&principal) as u32)
    }

    pub(super) fn in_replicated_execution(&mut self) -> R<u32> {
        Ok((self.env().api_type != ApiType::NonReplicatedQuery) as u32)
    }

    pub(super) fn time(&mut self) -> R<u64> {
        Ok(self.env().time)
    }

    pub(super) fn global_timer_set(&mut self, timestamp: u64) -> R<u64> {
        let host = self.host_mut();
        let old = host.effects.global_timer.unwrap_or(host.env.global_timer);
        host.effects.global_timer = Some(timestamp);
        Ok(old)
    }

    /// Counter 0: this message's instructions; 1: the whole call context's so far.
    pub(super) fn performance_counter(&mut self, kind: i32) -> R<u64> {
        let used = self.instructions_used()?;
        match kind {
            0 => Ok(used),
            1 => Ok(self.env().call_context_instructions + used),
            _ => Err(violation(format!(
                "ic0_performance_counter: unknown counter type {kind}"
            ))),
        }
    }

    pub(super) fn certified_data_set(&mut self, src: u32, size: u32) -> R<()> {
        if size > 32 {
            return Err(violation(
                "ic0_certified_data_set failed because the passed data must be no larger than 32 bytes"
                    .into(),
            ));
        }
        let bytes = self.read(src as u64, size as u64)?;
        self.host_mut().effects.certified_data = Some(bytes);
        Ok(())
    }

    pub(super) fn data_certificate_present(&mut self) -> R<u32> {
        Ok(u32::from(self.env().data_certificate.is_some()))
    }

    pub(super) fn data_certificate_size(&mut self) -> R<u32> {
        match &self.env().data_certificate {
            Some(certificate) => Ok(certificate.len() as u32),
            None => Err(violation(
                "ic0_data_certificate_size: no certificate is present".into(),
            )),
        }
    }

    pub(super) fn data_certificate_copy(&mut self, dst: u32, offset: u32, size: u32) -> R<()> {
        let Some(certificate) = self.env().data_certificate.clone() else {
            return Err(violation(
                "ic0_data_certificate_copy: no certificate is present".into(),
            ));
        };
        self.copy_out("data_certificate_copy", dst, offset, size, &certificate)
    }
}
