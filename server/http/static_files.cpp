// Static files for the web UI: lookup (embedded table or directory), content types, conditional
// requests and caching headers, gzip negotiation (zlib inflates for a client without gzip).
#include "server/http/static_files.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <zlib.h>
#include <boost/beast/core/string.hpp>

#include "common/error.h"
#include "server/http/embedded_files.h"

namespace tandem {

const char* const webui_content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

namespace {

std::string_view content_type(std::string_view path) {
    static const std::pair<std::string_view, std::string_view> types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".json", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
    };
    for (const auto& [ext, type] : types)
        if (path.ends_with(ext)) return type;
    return "application/octet-stream";
}

// FNV-1a, 64 bits: an ETag needs to change with the bytes, not to resist an adversary.
std::string etag_of(std::string_view bytes) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
    char buf[24];
    std::snprintf(buf, sizeof(buf), "\"%016llx\"", static_cast<unsigned long long>(h));
    return buf;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// If-None-Match lists `etag` (or is "*"); weak comparison, as RFC 9110 asks for this header.
bool etag_matches(std::string_view if_none_match, std::string_view etag) {
    while (!if_none_match.empty()) {
        const size_t comma = if_none_match.find(',');
        std::string_view tag = trim(if_none_match.substr(0, comma));
        if (tag == "*") return true;
        if (tag.starts_with("W/")) tag.remove_prefix(2);
        if (tag == etag) return true;
        if (comma == std::string_view::npos) break;
        if_none_match.remove_prefix(comma + 1);
    }
    return false;
}

// A request path that may name a file: absolute, no "..", no backslash or NUL, no empty segment.
bool safe_path(std::string_view path) {
    if (path.empty() || path.front() != '/' || path.find("//") != std::string_view::npos) return false;
    if (path.find('\\') != std::string_view::npos || path.find('\0') != std::string_view::npos) return false;
    for (size_t at = 0; at != std::string_view::npos;) {
        const size_t next = path.find('/', at + 1);
        const std::string_view seg = path.substr(at + 1, next == std::string_view::npos ? next : next - at - 1);
        if (seg.starts_with('.')) return false;  // ., .. and dotfiles (.git, .env) are never served
        at = next;
    }
    return true;
}

bool read_whole(const std::filesystem::path& p, std::string& out) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) return false;
    std::ifstream in(p, std::ios::binary);
    if (!in) return false;
    std::ostringstream os;
    os << in.rdbuf();
    out = os.str();
    return true;
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
    // An explicit gzip (or x-gzip) entry decides by its q-value; else a * entry does; else no.
    std::optional<bool> gzip, any;
    while (!accept_encoding.empty()) {
        const size_t comma = accept_encoding.find(',');
        const std::string_view item = trim(accept_encoding.substr(0, comma));
        const size_t semi = item.find(';');
        const std::string_view name = trim(item.substr(0, semi));
        bool ok = true;
        if (semi != std::string_view::npos) {
            std::string_view q = trim(item.substr(semi + 1));
            if (q.size() >= 2 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                q.remove_prefix(2);
                ok = q.find_first_not_of("0.") != std::string_view::npos;  // q > 0
            }
        }
        if (boost::beast::iequals(name, "gzip") || boost::beast::iequals(name, "x-gzip"))
            gzip = gzip.value_or(false) || ok;
        else if (name == "*")
            any = ok;
        if (comma == std::string_view::npos) break;
        accept_encoding.remove_prefix(comma + 1);
    }
    return gzip ? *gzip : any.value_or(false);
}

std::string gunzip(std::string_view gz) {
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw error("gunzip: inflateInit2 failed");
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    zs.avail_in = static_cast<uInt>(gz.size());
    std::string out;
    int rc = Z_OK;
    char buf[64 * 1024];
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof(buf);
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(buf, sizeof(buf) - zs.avail_out);
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) throw error("gunzip: corrupt or truncated gzip data");
    return out;
}

static_site static_site::embedded() {
    static_site site;
    for (const embedded_file& f : embedded_webui_files()) {
        std::string_view rel = f.path;
        const bool gz = rel.ends_with(".gz");
        if (gz) rel.remove_suffix(3);
        const std::string_view bytes(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
        site.files_["/" + std::string(rel)] = file{bytes, gz, etag_of(bytes)};
    }
    return site;
}

static_site static_site::directory(std::string root) {
    static_site site;
    site.root_ = std::move(root);
    return site;
}

std::optional<static_site::file> static_site::find(std::string_view path, std::string& storage) const {
    if (path == "/") path = "/index.html";
    if (root_.empty()) {
        auto it = files_.find(path);
        if (it == files_.end()) return std::nullopt;
        return it->second;
    }
    if (!safe_path(path)) return std::nullopt;
    const std::filesystem::path p = std::filesystem::path(root_) / std::string(path.substr(1));
    // No symlink may lead out of the root.
    std::error_code ec;
    const std::filesystem::path root = std::filesystem::canonical(root_, ec);
    if (ec) return std::nullopt;
    for (const std::filesystem::path& candidate : {p, std::filesystem::path(p.string() + ".gz")}) {
        const std::filesystem::path real = std::filesystem::weakly_canonical(candidate, ec);
        if (ec) return std::nullopt;
        const auto [r_end, _] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
        if (r_end != root.end()) return std::nullopt;
    }
    file f;
    if (read_whole(p, storage)) {
        f.gz = false;
    } else if (read_whole(p.string() + ".gz", storage)) {
        f.gz = true;
    } else {
        return std::nullopt;
    }
    f.bytes = storage;
    f.etag = etag_of(storage);
    return f;
}

bool static_site::has(std::string_view path) const {
    std::string storage;
    return find(path, storage).has_value();
}

std::optional<http_response> static_site::respond(const http_request& req, std::string_view path) const {
    std::string storage;
    const std::optional<file> f = find(path, storage);
    if (!f) return std::nullopt;
    const std::string_view name = path == "/" ? "/index.html" : path;
    const bool use_gz = f->gz && accepts_gzip(req[http::field::accept_encoding]);
    const std::string etag = f->gz && !use_gz ? f->etag.substr(0, f->etag.size() - 1) + "-id\"" : f->etag;
    // Hashed names never change content; the page (and anything served from a directory) is revalidated.
    const bool immutable = root_.empty() && name.starts_with("/assets/");

    const bool not_modified = etag_matches(req[http::field::if_none_match], etag);
    http_response res{not_modified ? http::status::not_modified : http::status::ok, 11};
    res.set(http::field::etag, etag);
    res.set(http::field::cache_control, immutable ? "public, max-age=31536000, immutable" : "no-cache");
    res.set(http::field::vary, "Accept-Encoding");
    res.set("Content-Security-Policy", webui_content_security_policy);
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    if (not_modified) return res;
    res.set(http::field::content_type, content_type(name));
    if (use_gz) {
        res.set(http::field::content_encoding, "gzip");
        res.body() = std::string(f->bytes);
    } else {
        res.body() = f->gz ? gunzip(f->bytes) : std::string(f->bytes);
    }
    return res;
}

}  // namespace tandem
