//! Proposals: evidence + policy -> a typed, reversible fix, or an escalation.
