//! A minimal HTTP/1.1 GET, for `authql healthcheck` in images that carry no HTTP client.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// The status code `url` (plain `http://host:port/path`) answers a GET with.
///
/// # Errors
/// When the URL is not a plain http one, or the server does not answer in `timeout`.
pub async fn get_status(url: &str, timeout: Duration) -> anyhow::Result<u16> {
    let parsed = url::Url::parse(url)?;
    anyhow::ensure!(parsed.scheme() == "http", "only http:// URLs can be probed");
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("no host in the URL"))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let exchange = async {
        let mut stream = TcpStream::connect((host, port)).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = [0u8; 64];
        let mut read = 0;
        while read < 12 {
            let n = stream.read(&mut head[read..]).await?;
            if n == 0 {
                break;
            }
            read += n;
        }
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..read]).into_owned())
    };
    let head = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {timeout:?}"))??;
    head.strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("not an HTTP answer: {head:?}"))
}
