// The Gemma 4 MTP assistant against llama.cpp: the anchor's final hidden states (h_nextn) and
// three draft steps (logits and next h) per golden prompt, first from the golden inputs, then
// chained from our own outputs (drafted tokens must match).
#include "common/error.h"
#include "tests/models/harness.h"

namespace tandem::test {
namespace {

struct mtp_rig {
    model_rig anchor;
    std::unique_ptr<gguf::file> draft_file;
    std::unique_ptr<mtp_drafter> drafter;
    mtp_rig()
        : anchor(shared_path("models/gemma4-tiny-F32.gguf")),
          draft_file(gguf::file::open(shared_path("models/gemma4-assistant-tiny-F32.gguf"))),
          drafter(drafter_load(*draft_file, *anchor.be, *anchor.m)) {}
};

// Anchor prefill with every row's logits and hidden state.
std::vector<float> prefill_hidden(mtp_rig& r, seq_state& s, const std::vector<int32_t>& tokens) {
    std::vector<int32_t> rows(tokens.size());
    std::iota(rows.begin(), rows.end(), 0);
    batch b;
    batch_seq bs;
    bs.tokens = tokens;
    bs.pos0 = 0;
    bs.block_table[0] = bs.block_table[1] = s.table;
    bs.logit_rows = rows;
    b.seqs.push_back(bs);
    std::vector<float> logits(tokens.size() * static_cast<size_t>(r.anchor.n_vocab()));
    std::vector<float> hidden(tokens.size() * static_cast<size_t>(r.anchor.m->info().n_embd));
    r.anchor.m->forward(*r.anchor.be, b, {logits, hidden});
    s.n_past = static_cast<int32_t>(tokens.size());
    return hidden;
}

// One draft step for one sequence at position pos: returns {logits, h_next}.
std::pair<std::vector<float>, std::vector<float>> draft_step(mtp_rig& r, seq_state& s, int32_t token, int32_t pos,
                                                             std::span<const float> h) {
    const std::vector<int32_t> tok{token};
    const std::vector<int32_t> row{0};
    batch b;
    batch_seq bs;
    bs.tokens = tok;
    bs.pos0 = pos;
    bs.block_table[0] = bs.block_table[1] = s.table;
    bs.logit_rows = row;
    b.seqs.push_back(bs);
    std::vector<float> logits(static_cast<size_t>(r.drafter->info().n_vocab));
    std::vector<float> h_next(static_cast<size_t>(r.drafter->info().n_embd));
    r.drafter->forward(*r.anchor.be, b, h, {logits, h_next});
    return {logits, h_next};
}

constexpr double k_h_abs = 1.0, k_h_nmse = 2e-5;           // golden/README.md: gemma4-tiny h_nextn
constexpr double k_draft_abs = 0.01, k_draft_nmse = 2e-5;  // drafter logits and h, golden inputs

TEST(gemma4_mtp, hidden_states_and_draft_steps_match_llama_cpp) {
    mtp_rig r;
    for (const char* id : {"p0_short", "p1_unicode", "p2_long"}) {
        SCOPED_TRACE(id);
        const std::string base = std::string(TANDEM_SHARED_DIR) + "/golden/gemma4-tiny-F32/" + id;
        const nlohmann::json j = read_json(shared_path(std::string("golden/gemma4-tiny-F32/") + id + ".json"));
        const auto tokens = j["tokens"].get<std::vector<int32_t>>();
        const int32_t n = static_cast<int32_t>(tokens.size());
        const int64_t D = r.anchor.m->info().n_embd, V = r.drafter->info().n_vocab;
        const std::vector<float> h_ref = read_f32(base + ".h_nextn.f32");
        const std::vector<float> dl_ref = read_f32(base + ".draft_logits.f32");
        const std::vector<float> dh_ref = read_f32(base + ".draft_h.f32");
        ASSERT_EQ(h_ref.size(), static_cast<size_t>(n * D));

        seq_state s;
        s.table = r.anchor.take_blocks(n + 1);
        const std::vector<float> h = prefill_hidden(r, s, tokens);
        const error_stats eh = compare(h.data(), h_ref.data(), h_ref.size());
        EXPECT_LE(eh.max_abs, k_h_abs);
        EXPECT_LE(eh.nmse, k_h_nmse);

        const auto& steps = j["draft"]["steps"];
        std::span<const float> chained_h(h.data() + (n - 1) * D, static_cast<size_t>(D));
        std::vector<float> keep_h;
        int32_t chained_tok = j["draft"]["first_input_token"].get<int32_t>();
        for (size_t k = 0; k < steps.size(); ++k) {
            // From golden inputs.
            const int32_t tok = steps[k]["input_token"].get<int32_t>();
            std::span<const float> h_in = k == 0 ? std::span<const float>(h_ref.data() + (n - 1) * D, D)
                                                 : std::span<const float>(dh_ref.data() + (k - 1) * D, D);
            auto [logits, h_next] = draft_step(r, s, tok, n, h_in);
            const error_stats el = compare(logits.data(), dl_ref.data() + k * V, static_cast<size_t>(V));
            const error_stats en = compare(h_next.data(), dh_ref.data() + k * D, static_cast<size_t>(D));
            EXPECT_LE(el.max_abs, k_draft_abs) << "step " << k;
            EXPECT_LE(el.nmse, k_draft_nmse) << "step " << k;
            EXPECT_LE(en.max_abs, k_draft_abs) << "step " << k;
            EXPECT_LE(en.nmse, k_draft_nmse) << "step " << k;
            // Chained from our own outputs, as the engine will run it.
            auto [cl, ch] = draft_step(r, s, chained_tok, n, chained_h);
            chained_tok = argmax(cl.data(), V);
            EXPECT_EQ(chained_tok, steps[k]["drafted"].get<int32_t>()) << "step " << k;
            keep_h = ch;
            chained_h = keep_h;
        }
    }
}

TEST(gemma4_mtp, refuses_an_assistant_as_a_model_and_a_model_as_an_assistant) {
    mtp_rig r;
    EXPECT_THROW(model_load(*r.draft_file, *r.anchor.be), tandem::error);
    EXPECT_THROW(drafter_load(*r.anchor.file, *r.anchor.be, *r.anchor.m), tandem::error);
}

}  // namespace
}  // namespace tandem::test
