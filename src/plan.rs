//! `suture plan`: the whole pure pipeline over a snapshot.
