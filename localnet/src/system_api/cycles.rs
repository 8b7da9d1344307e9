//! Cycles: those attached to the incoming message (available, accepted, refunded), the
//! canister's balance, and what a call or a canister creation would cost.

use super::{
    CREATE_CANISTER_FEE, R, RESPONSE_RESERVATION, SystemApi, XNET_BYTE_FEE, XNET_CALL_FEE,
};

impl SystemApi<'_, '_> {
    pub(super) fn msg_cycles_available128(&mut self, dst: u32) -> R<()> {
        let available = self.host().cycles_available;
        self.write_u128(dst, available)
    }

    pub(super) fn msg_cycles_refunded128(&mut self, dst: u32) -> R<()> {
        let refunded = self.env().cycles_refunded;
        self.write_u128(dst, refunded)
    }

    pub(super) fn msg_cycles_accept128(&mut self, high: u64, low: u64, dst: u32) -> R<()> {
        let max = (u128::from(high) << 64) | u128::from(low);
        let host = self.host_mut();
        let take = max.min(host.cycles_available);
        host.cycles_available -= take;
        host.effects.cycles_accepted += take;
        host.balance += take;
        self.write_u128(dst, take)
    }

    pub(super) fn canister_cycle_balance128(&mut self, dst: u32) -> R<()> {
        let balance = self.host().balance;
        self.write_u128(dst, balance)
    }

    pub(super) fn canister_liquid_cycle_balance128(&mut self, dst: u32) -> R<()> {
        // No freezing threshold or reservations are modelled: all of the balance is liquid.
        let balance = self.host().balance;
        self.write_u128(dst, balance)
    }

    pub(super) fn cost_call(
        &mut self,
        method_name_size: u64,
        payload_size: u64,
        dst: u32,
    ) -> R<()> {
        let cost = XNET_CALL_FEE
            + XNET_BYTE_FEE * (u128::from(method_name_size) + u128::from(payload_size))
            + RESPONSE_RESERVATION;
        self.write_u128(dst, cost)
    }

    pub(super) fn cost_create_canister(&mut self, dst: u32) -> R<()> {
        self.write_u128(dst, CREATE_CANISTER_FEE)
    }
}
