//! Domain events: what happened, told to whoever listens after it is
//! committed. The audit trail records what was done; events let other parts
//! react (back-channel logout will subscribe to `SessionEnded`) without the
//! code that ended the session knowing about them.

use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An SSO session is over: every relying party it served should forget
    /// the user (OIDC Back-Channel Logout, later).
    SessionEnded {
        /// SHA-256 of the session cookie's value, as stored.
        session: String,
        user_id: String,
        reason: SessionEndReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEndReason {
    /// The user logged out (RP-initiated or on Portcullis's own page).
    Logout,
    /// A new login in the same browser replaced it.
    Replaced,
    /// The person changed their password on the account page: every other
    /// session of theirs ends.
    PasswordChanged,
    /// The person ended it from the session list of their account page.
    EndedFromAccount,
}

/// Where events are told. Cheap to clone; a slow listener loses the oldest
/// events (and is told how many), never blocks the one emitting.
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(1024).0,
        }
    }
}

impl Events {
    /// Tells every listener; with none listening the event is dropped.
    pub fn emit(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_listener_hears_an_event_emitted_after_it_subscribed() {
        let events = Events::default();
        events.emit(Event::SessionEnded {
            session: "before".into(),
            user_id: "u".into(),
            reason: SessionEndReason::Logout,
        });
        let (mut a, mut b) = (events.subscribe(), events.subscribe());
        let ended = Event::SessionEnded {
            session: "s".into(),
            user_id: "u".into(),
            reason: SessionEndReason::Replaced,
        };
        events.emit(ended.clone());
        assert_eq!(a.recv().await.unwrap(), ended);
        assert_eq!(b.recv().await.unwrap(), ended);
    }
}
