//! Webhook alerts on findings (to be written).
