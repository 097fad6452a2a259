//! Kubernetes resource quantities (`512Mi`, `1Gi`, `500M`, `1e9`), parsed exactly.
