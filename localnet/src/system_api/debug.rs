//! Debug output and explicit traps.

use super::{HostTrap, R, SystemApi};
use crate::types::ErrorCode;

impl SystemApi<'_, '_> {
    pub(super) fn debug_print(&mut self, src: u32, size: u32) -> R<()> {
        let bytes = self.read(src as u64, size as u64)?;
        self.host_mut()
            .logs
            .push(String::from_utf8_lossy(&bytes).into_owned());
        Ok(())
    }

    pub(super) fn trap(&mut self, src: u32, size: u32) -> R<()> {
        let bytes = self.read(src as u64, size as u64)?;
        Err(wasmtime::Error::new(HostTrap {
            code: ErrorCode::CanisterCalledTrap,
            message: format!(
                "Canister called `ic0.trap` with message: '{}'",
                String::from_utf8_lossy(&bytes)
            ),
        }))
    }
}
