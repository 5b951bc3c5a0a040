// One generated choice turned into OpenAI output: engine events (whose text the engine has already
// made UTF-8-safe and cut at stop strings) -> text, logprobs and finish reason; plus the JSON of
// streamed chunks and of whole responses. Pure (no I/O), unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "server/chat/chat_output.h"
#include "server/http/openai_parse.h"

namespace tandem {

struct response_meta {
    std::string id;     // "chatcmpl-..." or "cmpl-..."
    std::string model;  // the alias or the model's name
    int64_t created = 0;
    bool chat = true;
    bool include_usage = false;  // streaming: chunks carry "usage": null, then a usage chunk
};

class choice_output {
  public:
    choice_output(const text_codec& codec, int32_t index, const generation_request& g);

    // Consumes one engine event; events after the done event are ignored.
    void consume(const stream_event& ev);
    // Chat: splits the text into reasoning, content and tool calls (call before the first event).
    void set_parser(chat_syntax syntax, const chat_parse_options& opts);

    // Text (content), reasoning, tool-call pieces and logprobs produced since the last take (streaming).
    std::string take_text();
    std::string take_reasoning();
    std::vector<tool_call_delta> take_call_deltas();
    nlohmann::json take_logprobs();  // null when logprobs are off or nothing new

    bool finished() const { return finish_.has_value(); }
    const std::string& finish_reason() const { return *finish_; }
    const std::optional<std::string>& error() const { return error_; }  // engine error or abort
    int32_t index() const { return index_; }
    int32_t n_generated() const { return n_generated_; }
    const std::string& text() const { return text_; }  // the content
    const std::string& reasoning() const { return reasoning_; }
    const std::vector<tool_call>& tool_calls() const { return calls_; }  // completed
    const nlohmann::json& logprobs() const { return all_logprobs_; }     // whole-response shape

    void set_prefix(const std::string& text);  // completions echo: the prompt before the output

    // The engine's own account of this choice (from its done event; zeros until it arrives).
    struct engine_timings {
        int32_t n_draft = 0, n_draft_accepted = 0;
        int32_t n_prompt_cached = 0;  // prompt tokens the prefix cache served
        double first_token_seconds = 0, generation_seconds = 0;
    };
    const engine_timings& timings() const { return timings_; }

  private:
    void add_text(const std::string& text);
    void add_parsed(const chat_delta& d);
    void add_logprob(const stream_event& ev);
    nlohmann::json empty_logprobs() const;

    const text_codec& codec_;
    int32_t index_;
    bool chat_;
    bool logprobs_;
    std::string text_, delta_text_;
    std::string reasoning_, delta_reasoning_;
    std::vector<tool_call> calls_;
    std::vector<tool_call_delta> delta_calls_;
    std::optional<chat_output_parser> parser_;
    nlohmann::json all_logprobs_, delta_logprobs_;
    int64_t text_offset_ = 0;
    int32_t n_generated_ = 0;
    engine_timings timings_;
    std::optional<std::string> finish_;
    std::optional<std::string> error_;
};

// A token piece as valid UTF-8 (partial characters become U+FFFD).
std::string piece_text(const text_codec& codec, int32_t id);

nlohmann::json usage_json(int64_t n_prompt, int64_t n_completion, int64_t n_cached = 0);

// Streaming: the first chat chunk of a choice (role), a delta chunk, and the closing usage chunk.
nlohmann::json chunk_role(const response_meta& m, int32_t index);
nlohmann::json chunk_delta(const response_meta& m, int32_t index, const std::string& text,
                           const std::optional<std::string>& finish, const nlohmann::json& logprobs);
// A chat chunk whose delta is given whole ({"reasoning_content": ...}, {"tool_calls": [...]}).
nlohmann::json chunk_chat_delta(const response_meta& m, int32_t index, nlohmann::json delta,
                                const nlohmann::json& logprobs);
// OpenAI's streamed tool calls: a call's first delta (index, id, type, name, arguments ""), then its
// argument text, a delta per piece (a piece per generated token), however the stream batches them.
std::vector<nlohmann::json> tool_call_chunks(const std::vector<tool_call_delta>& deltas);
nlohmann::json chunk_usage(const response_meta& m, int64_t n_prompt, int64_t n_completion, int64_t n_cached = 0);

// Tandem's extension field (llama-server's name and keys): the choices' speculative-decoding counts
// and the engine's times, summed over `choices`.
nlohmann::json timings_json(std::span<const choice_output> choices);

// Non-streaming: the whole response.
nlohmann::json response_json(const response_meta& m, const std::vector<choice_output>& choices, int64_t n_prompt,
                             int64_t n_cached = 0);

}  // namespace tandem
