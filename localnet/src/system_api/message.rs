//! The incoming message and its answer: argument, caller, reject code and message, method name
//! (inspect_message), deadline, and the reply or reject that closes the call context.

use super::{Payload, R, SystemApi, violation};

impl SystemApi<'_, '_> {
    pub(super) fn msg_arg_data_size(&mut self) -> R<u32> {
        Ok(self.env().arg.len() as u32)
    }

    pub(super) fn msg_arg_data_copy(&mut self, dst: u32, offset: u32, size: u32) -> R<()> {
        // Taken out and put back rather than cloned: arguments can be megabytes.
        let arg = std::mem::take(&mut self.host_mut().env.arg);
        let result = self.copy_out("msg_arg_data_copy", dst, offset, size, &arg);
        self.host_mut().env.arg = arg;
        result
    }

    pub(super) fn msg_caller_size(&mut self) -> R<u32> {
        Ok(self.env().caller.as_slice().len() as u32)
    }

    pub(super) fn msg_caller_copy(&mut self, dst: u32, offset: u32, size: u32) -> R<()> {
        let bytes = self.env().caller.as_slice().to_vec();
        self.copy_out("msg_caller_copy", dst, offset, size, &bytes)
    }

    pub(super) fn msg_reject_code(&mut self) -> R<u32> {
        Ok(self.env().reject.as_ref().map_or(0, |(code, _)| *code))
    }

    pub(super) fn msg_reject_msg_size(&mut self) -> R<u32> {
        Ok(self.env().reject.as_ref().map_or(0, |(_, m)| m.len()) as u32)
    }

    pub(super) fn msg_reject_msg_copy(&mut self, dst: u32, offset: u32, size: u32) -> R<()> {
        let bytes = self
            .env()
            .reject
            .as_ref()
            .map(|(_, m)| m.clone().into_bytes())
            .unwrap_or_default();
        self.copy_out("msg_reject_msg_copy", dst, offset, size, &bytes)
    }

    pub(super) fn msg_deadline(&mut self) -> R<u64> {
        Ok(self.env().deadline)
    }

    pub(super) fn msg_reply_data_append(&mut self, src: u32, size: u32) -> R<()> {
        let bytes = self.read(src as u64, size as u64)?;
        if self.host().replied {
            return Err(violation("msg.reply: the call is already replied".into()));
        }
        let (len, max) = (
            self.host().reply_buf.len() as u64 + bytes.len() as u64,
            self.env().max_reply_bytes,
        );
        if len > max {
            // The replica's text (system_api.rs, `ic0_msg_reply_data_append`) as remembered; the
            // code (IC0504, contract violation) is certain, the wording is an inference.
            return Err(violation(format!(
                "ic0.msg_reply_data_append: application payload size ({len}) cannot be larger than {max}."
            )));
        }
        self.host_mut().reply_buf.extend(bytes);
        Ok(())
    }

    pub(super) fn msg_reply(&mut self) -> R<()> {
        let host = self.host_mut();
        if host.replied {
            return Err(violation("msg.reply: the call is already replied".into()));
        }
        host.replied = true;
        let data = std::mem::take(&mut host.reply_buf);
        host.effects.response = Some(Payload::Reply(data));
        Ok(())
    }

    pub(super) fn msg_reject(&mut self, src: u32, size: u32) -> R<()> {
        let bytes = self.read(src as u64, size as u64)?;
        let host = self.host_mut();
        if host.replied {
            return Err(violation("msg.reject: the call is already replied".into()));
        }
        host.replied = true;
        host.effects.response = Some(Payload::Reject(
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
        Ok(())
    }

    pub(super) fn msg_method_name_size(&mut self) -> R<u32> {
        Ok(self.env().method_name.len() as u32)
    }

    pub(super) fn msg_method_name_copy(&mut self, dst: u32, offset: u32, size: u32) -> R<()> {
        let bytes = self.env().method_name.clone().into_bytes();
        self.copy_out("msg_method_name_copy", dst, offset, size, &bytes)
    }

    pub(super) fn accept_message(&mut self) -> R<()> {
        let host = self.host_mut();
        if host.effects.accepted_message {
            return Err(violation(
                "ic0.accept_message: the message is already accepted".into(),
            ));
        }
        host.effects.accepted_message = true;
        Ok(())
    }
}
