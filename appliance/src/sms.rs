//! Sending sign-in codes. The built-in gateway writes the code to the log (development and
//! `--demo`); real providers (SMS.ru, SMSC) arrive with the connectors.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use krug::types::Phone;

/// A failure to hand a message to the provider.
#[derive(Debug, thiserror::Error)]
#[error("sms gateway: {0}")]
pub struct SmsError(pub String);

/// Sends a text message to a phone.
pub trait SmsGateway: Send + Sync + 'static {
    /// Sends `text` to `to`.
    fn send<'a>(
        &'a self,
        to: &'a Phone,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), SmsError>> + Send + 'a>>;
}

/// Logs messages instead of sending them (the phone is masked; the code is shown so a developer
/// can sign in).
#[derive(Debug, Default)]
pub struct LogGateway;

impl SmsGateway for LogGateway {
    fn send<'a>(
        &'a self,
        to: &'a Phone,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), SmsError>> + Send + 'a>> {
        Box::pin(async move {
            tracing::warn!(to = %to.masked(), %text, "SMS (development gateway: not sent)");
            Ok(())
        })
    }
}

/// Keeps sent messages in memory, for tests that read the code a member would receive.
#[derive(Debug, Default, Clone)]
pub struct CapturingGateway {
    sent: Arc<Mutex<Vec<(String, String)>>>,
}

impl CapturingGateway {
    /// The last message sent to `phone` (E.164), if any.
    pub fn last_to(&self, phone: &str) -> Option<String> {
        let sent = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sent.iter().rev().find(|(to, _)| to == phone).map(|(_, text)| text.clone())
    }
}

impl SmsGateway for CapturingGateway {
    fn send<'a>(
        &'a self,
        to: &'a Phone,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), SmsError>> + Send + 'a>> {
        Box::pin(async move {
            let mut sent = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            sent.push((to.as_e164().to_owned(), text.to_owned()));
            Ok(())
        })
    }
}
