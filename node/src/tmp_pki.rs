#![allow(dead_code, missing_docs, unreachable_pub)]
pub struct ClusterCa;
pub struct ReplicaIdentity { pub cert_pem: String, pub key_pem: String, pub fingerprint: stele_rpc::tls::Fingerprint }
impl ClusterCa {
    pub fn generate(_n: &str) -> anyhow::Result<Self> { anyhow::bail!("cluster PKI is not in this build yet") }
    pub fn cert_pem(&self) -> String { String::new() }
    pub fn key_pem(&self) -> String { String::new() }
    pub fn issue_replica(&self, _id: stele_consensus::ReplicaId, _h: &[String]) -> anyhow::Result<ReplicaIdentity> { anyhow::bail!("cluster PKI is not in this build yet") }
}
