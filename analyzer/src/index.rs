//! The tantivy index of events and findings (to be written).
