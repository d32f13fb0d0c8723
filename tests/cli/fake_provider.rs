//! A tiny real HTTP/1.1 server on 127.0.0.1 (an ephemeral port) standing in
//! for providers: it answers each request with a scripted reply and records
//! what it received, so tests can assert where a key went and how it was
//! sent. One thread per connection, `Connection: close`, no keep-alive.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Names lowercased, in order received.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes), lossily decoded.
    pub body: String,
    pub at: Instant,
}

impl Request {
    /// Every value of header `name`.
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The key, from whichever auth header carried it.
    pub fn key(&self) -> String {
        if let Some(a) = self.header("authorization").first() {
            return a.strip_prefix("Bearer ").unwrap_or(a).to_string();
        }
        for h in ["x-api-key", "private-token"] {
            if let Some(v) = self.header(h).first() {
                return v.to_string();
            }
        }
        String::new()
    }

    /// The whole request as text (for "the key never reached X" checks).
    pub fn text(&self) -> String {
        let mut s = format!("{} {}\n", self.method, self.path);
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\n"));
        }
        s.push('\n');
        s.push_str(&self.body);
        s
    }

    /// The body as JSON (Null if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What to answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
    /// Drop the connection instead of answering.
    pub reset: bool,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: "{}".into(),
            delay: Duration::ZERO,
            reset: false,
        }
    }

    /// No answer: the connection is closed once the request is read.
    pub fn reset() -> Reply {
        Reply {
            reset: true,
            ..Reply::status(500)
        }
    }

    pub fn body(mut self, body: &str) -> Reply {
        self.body = body.into();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// The running server. It lives until the test process ends.
pub struct Server {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    in_flight: Arc<Mutex<InFlight>>,
}

/// Requests being answered, now and at most, per first path segment
/// (`/kunavo/v1/models` counts for `kunavo`).
type InFlight = HashMap<String, (usize, usize)>;

impl Server {
    /// Start answering with `handler(request, n)`, where `n` counts the
    /// earlier requests that carried the same key (0 for the first).
    pub fn start(handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(Mutex::new(InFlight::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let requests = Arc::clone(&requests);
            let in_flight = Arc::clone(&in_flight);
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (requests, handler, in_flight) = (
                        Arc::clone(&requests),
                        Arc::clone(&handler),
                        Arc::clone(&in_flight),
                    );
                    std::thread::spawn(move || serve(stream, &requests, &*handler, &in_flight));
                }
            });
        }
        Server {
            addr,
            requests,
            in_flight,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect()
    }

    /// The most requests under `/segment/` ever answered at the same time.
    pub fn max_in_flight(&self, segment: &str) -> usize {
        self.in_flight
            .lock()
            .unwrap()
            .get(segment)
            .map_or(0, |&(_, max)| max)
    }

    /// Wait until `n` requests have arrived (or panic after `limit`).
    pub fn wait_for(&self, n: usize, limit: Duration) {
        let end = Instant::now() + limit;
        while self.requests.lock().unwrap().len() < n {
            assert!(Instant::now() < end, "server got fewer than {n} requests");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(
    stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    handler: &Handler,
    in_flight: &Mutex<InFlight>,
) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(1 << 20)];
    if reader.read_exact(&mut body).is_err() {
        body.clear();
    }
    let request = Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    };
    let seen = {
        let mut all = requests.lock().unwrap();
        let key = request.key();
        let seen = all.iter().filter(|r| r.key() == key).count();
        all.push(request.clone());
        seen
    };
    let segment = request
        .path
        .split('/')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    {
        let mut map = in_flight.lock().unwrap();
        let (now, max) = map.entry(segment.clone()).or_default();
        *now += 1;
        *max = (*max).max(*now);
    }
    let reply = handler(&request, seen);
    std::thread::sleep(reply.delay);
    if reply.reset {
        if let Some((now, _)) = in_flight.lock().unwrap().get_mut(&segment) {
            *now -= 1;
        }
        // Closed with the request read and nothing answered: the client
        // sees the connection drop mid-exchange. (A true RST needs
        // SO_LINGER 0, which std does not offer on stable.)
        drop(reader);
        drop(stream);
        return;
    }
    // Counted out before the answer goes, so the client's next request can
    // never overlap this one in the count.
    if let Some((now, _)) = in_flight.lock().unwrap().get_mut(&segment) {
        *now -= 1;
    }
    let mut out = format!(
        "HTTP/1.1 {} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (n, v) in &reply.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
}
