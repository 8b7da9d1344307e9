//! Inter-canister calls: `call_new` starts one, the next functions add to it, `call_perform`
//! sends it (as an [`OutgoingCall`] in the message's effects) and charges its fee.

use super::{
    OutgoingCall, R, RESPONSE_RESERVATION, SystemApi, XNET_BYTE_FEE, XNET_CALL_FEE, violation,
};

impl SystemApi<'_, '_> {
    /// The call under construction, or a contract violation naming `function`.
    fn pending_call(&mut self, function: &str) -> R<&mut OutgoingCall> {
        self.host_mut()
            .pending
            .as_mut()
            .ok_or_else(|| violation(format!("ic0.{function}: no call is under construction")))
    }

    #[allow(clippy::too_many_arguments)] // the ic0 signature
    pub(super) fn call_new(
        &mut self,
        callee_src: u32,
        callee_size: u32,
        name_src: u32,
        name_size: u32,
        reply_fun: u32,
        reply_env: u32,
        reject_fun: u32,
        reject_env: u32,
    ) -> R<()> {
        let callee = self.read_principal(callee_src, callee_size, "ic0.call_new")?;
        let name = self.read(name_src as u64, name_size as u64)?;
        let method = String::from_utf8(name)
            .map_err(|_| violation("ic0.call_new: method name is not valid UTF-8".into()))?;
        // A call under construction that was never performed is discarded.
        self.host_mut().pending = Some(OutgoingCall {
            callee,
            method,
            arg: Vec::new(),
            cycles: 0,
            reply: (reply_fun, reply_env),
            reject: (reject_fun, reject_env),
            cleanup: None,
            timeout_seconds: None,
        });
        Ok(())
    }

    pub(super) fn call_on_cleanup(&mut self, fun: u32, env: u32) -> R<()> {
        let pending = self.pending_call("call_on_cleanup")?;
        if pending.cleanup.is_some() {
            return Err(violation(
                "ic0.call_on_cleanup: cleanup is already set".into(),
            ));
        }
        pending.cleanup = Some((fun, env));
        Ok(())
    }

    pub(super) fn call_data_append(&mut self, src: u32, size: u32) -> R<()> {
        let bytes = self.read(src as u64, size as u64)?;
        let max = self.env().max_call_bytes;
        let pending = self.pending_call("call_data_append")?;
        let size = (pending.method.len() + pending.arg.len() + bytes.len()) as u64;
        if size > max {
            // The replica checks method name + payload against the limit when the data is
            // appended (`request_in_prep.rs`); code certain (IC0504), wording inferred.
            return Err(violation(format!(
                "ic0.call_data_append: Request to {}:{} has a payload size of {size}, \
                 which exceeds the permitted limit of {max}",
                pending.callee, pending.method
            )));
        }
        pending.arg.extend(bytes);
        Ok(())
    }

    pub(super) fn call_with_best_effort_response(&mut self, timeout_seconds: u32) -> R<()> {
        let pending = self.pending_call("call_with_best_effort_response")?;
        if pending.timeout_seconds.is_some() {
            return Err(violation(
                "ic0.call_with_best_effort_response: timeout is already set".into(),
            ));
        }
        // The spec clamps the timeout to [1, MAX_CALL_TIMEOUT = 300] seconds.
        pending.timeout_seconds = Some(timeout_seconds.clamp(1, 300));
        Ok(())
    }

    pub(super) fn call_cycles_add128(&mut self, high: u64, low: u64) -> R<()> {
        let amount = (u128::from(high) << 64) | u128::from(low);
        self.pending_call("call_cycles_add128")?;
        let host = self.host_mut();
        if amount > host.balance {
            return Err(violation(format!(
                "ic0.call_cycles_add128: canister cannot transfer {amount} cycles, its balance is {}",
                host.balance
            )));
        }
        host.balance -= amount;
        host.effects.cycles_spent += amount;
        host.pending.as_mut().expect("checked").cycles += amount;
        Ok(())
    }

    /// 0 when the call is sent; 2 (SYS_TRANSIENT) when the balance cannot pay for it.
    pub(super) fn call_perform(&mut self) -> R<u32> {
        let host = self.host_mut();
        let call = host
            .pending
            .take()
            .ok_or_else(|| violation("ic0.call_perform: no call is under construction".into()))?;
        let fee = XNET_CALL_FEE + XNET_BYTE_FEE * (call.method.len() + call.arg.len()) as u128;
        if host.balance < fee + RESPONSE_RESERVATION {
            // Not enough cycles: the call is not made and its attached cycles return.
            host.balance += call.cycles;
            host.effects.cycles_spent -= call.cycles;
            return Ok(2); // SYS_TRANSIENT
        }
        host.balance -= fee;
        host.effects.cycles_spent += fee;
        host.effects.calls.push(call);
        Ok(0)
    }
}
