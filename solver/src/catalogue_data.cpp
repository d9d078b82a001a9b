// The published coefficient lists compiled into the tool.  The text between
// the raw-string delimiters below is tests/data/published_schedules.json
// (a copy of shared/reference/published_schedules.json) byte for byte;
// tests/solver/test_catalogue.cpp fails when they differ.  To update, paste
// the file between the delimiters.
#include "polar_express/solver/catalogue.hpp"

namespace polar_express {

const std::string& builtin_catalogue_json() {
  static const std::string text = R"json({
  "about": "Published odd-polynomial schedules for the matrix polar factor, copied as their sources print them. Each step is [a, b, c] (or [a, b] for cubics) for p(x) = a x + b x^3 + c x^5. 'repeat_last' means steps past the list reuse the last tuple; 'cycle' means the list is repeated. 'normalization' is how the source scales the input before step 1. Use these as reference data in tests; they are facts, not code.",
  "schedules": [
    {
      "name": "polar-express-paper-d5",
      "source": "Amsel, Persson, Musco, Gower, 'The Polar Express' (arXiv 2505.16932), Algorithm 1: raw list, then every tuple but the last divided by (1.01, 1.01^3, 1.01^5)",
      "design": {"degree": 5, "lower": 1e-3, "steps": 8, "cushion": 0.02407327424182761, "safety": 0.01, "safety_mode": "posthoc"},
      "normalization": "X / (1.01 * ||X||_F + 1e-7)",
      "after_list": "repeat_last",
      "raw_steps": [
        [8.28721201814563, -23.595886519098837, 17.300387312530933],
        [4.107059111542203, -2.9478499167379106, 0.5448431082926601],
        [3.9486908534822946, -2.908902115962949, 0.5518191394370137],
        [3.3184196573706015, -2.488488024314874, 0.51004894012372],
        [2.300652019954817, -1.6689039845747493, 0.4188073119525673],
        [1.891301407787398, -1.2679958271945868, 0.37680408948524835],
        [1.8750014808534479, -1.2500016453999487, 0.3750001645474248],
        [1.875, -1.25, 0.375]
      ]
    },
    {
      "name": "polar-express-nanochat-d5",
      "source": "modded-nanogpt / nanochat train_gpt.py, comment 'num_iters=5, safety_factor=2e-2, cushion=2'; equals the maintained package's optimal_composition(l=1e-3, num_iters=5, safety_factor_eps=2e-2, cushion=0.02) with the safety factor applied inside the loop",
      "design": {"degree": 5, "lower": 1e-3, "steps": 5, "cushion": 0.02, "safety": 0.02, "safety_mode": "inloop"},
      "normalization": "X / (1.02 * ||X||_F + 1e-6)",
      "after_list": "repeat_last",
      "steps": [
        [8.156554524902461, -22.48329292557795, 15.878769915207462],
        [4.042929935166739, -2.808917465908714, 0.5000178451051316],
        [3.8916678022926607, -2.772484153217685, 0.5060648178503393],
        [3.285753657755655, -2.3681294933425376, 0.46449024233003106],
        [2.3465413258596377, -1.7097828382687081, 0.42323551169305323]
      ]
    },
    {
      "name": "muon-jordan-ns5",
      "source": "Keller Jordan, Muon (muon.py, zeropower_via_newtonschulz5): one tuple repeated, 5 steps by default",
      "normalization": "X / (||X||_F + 1e-7)",
      "after_list": "repeat_last",
      "steps": [[3.4445, -4.7750, 2.0315]]
    },
    {
      "name": "you-6step",
      "source": "Jiacheng You, 6-step list (integers over 1024)",
      "normalization": "X / (||X||_F + 1e-7)",
      "after_list": "repeat_last",
      "steps": [
        [3.8623046875, -8.111328125, 4.890625],
        [3.6474609375, -6.5244140625, 3.3818359375],
        [3.7099609375, -6.3466796875, 3.1357421875],
        [3.9248046875, -6.2353515625, 2.837890625],
        [2.6142578125, -2.9580078125, 1.134765625],
        [2.12109375, -1.7900390625, 0.666015625]
      ]
    },
    {
      "name": "cesista-quintic-5step",
      "source": "Franz Cesista, modded-nanogpt GPT-2 Medium record of 2025-02-14 (called 'quintic' in NVIDIA Emerging-Optimizers, used by microsoft/dion newton_schulz_triton)",
      "normalization": "X / (||X||_F + 1e-7)",
      "after_list": "repeat_last",
      "steps": [
        [4.0848, -6.8946, 2.9270],
        [3.9505, -6.3029, 2.6377],
        [3.7418, -5.5913, 2.3037],
        [2.8769, -3.1427, 1.2046],
        [2.8366, -3.0525, 1.2012]
      ]
    },
    {
      "name": "cans-5step",
      "source": "Grishina, Smirnov, Rakhuba, CANS (arXiv 2506.10935), reference code's 5-step table",
      "normalization": "X / ||X||_F",
      "after_list": "repeat_last",
      "steps": [
        [8.462385123610193, -25.076703591296525, 18.604318451139527],
        [4.169671637309271, -3.0995520439584285, 0.57956324300095],
        [3.913676673069997, -2.920037812686962, 0.5590987905684336],
        [3.1710465180967007, -2.3777373620051665, 0.49752193655456894],
        [2.187030637313693, -1.5649500065194997, 0.4076449910177318]
      ]
    },
    {
      "name": "turbo-muon-aol-4step",
      "source": "Turbo-Muon / flash-newton-schulz, as in microsoft/dion newton_schulz_triton_fast; needs AOL column rescaling s = rsqrt(sum |X^T X| per row) in place of Frobenius normalization",
      "normalization": "AOL",
      "after_list": "repeat_last",
      "steps": [
        [4.6051, -9.6552, 5.6769],
        [4.7505, -6.0861, 2.1790],
        [2.7763, -2.3190, 0.5523],
        [2.4231, -2.2861, 0.8193]
      ]
    },
    {
      "name": "deepseek-v4-hybrid",
      "source": "NVIDIA Emerging-Optimizers coefficient type 'deepseekv4': Jordan's tuple 8 times, then (2, -1.5, 0.5) twice",
      "normalization": "X / (||X||_F + eps)",
      "after_list": "repeat_last",
      "steps": [
        [3.4445, -4.7750, 2.0315], [3.4445, -4.7750, 2.0315], [3.4445, -4.7750, 2.0315], [3.4445, -4.7750, 2.0315],
        [3.4445, -4.7750, 2.0315], [3.4445, -4.7750, 2.0315], [3.4445, -4.7750, 2.0315], [3.4445, -4.7750, 2.0315],
        [2.0, -1.5, 0.5], [2.0, -1.5, 0.5]
      ]
    },
    {
      "name": "newton-schulz-cubic",
      "source": "classical Newton-Schulz iteration, p(x) = (3x - x^3)/2",
      "normalization": "X / ||X||_F",
      "after_list": "repeat_last",
      "steps": [[1.5, -0.5]]
    },
    {
      "name": "newton-schulz-quintic",
      "source": "classical degree-5 Newton-Schulz (Pade) iteration, p(x) = (15x - 10x^3 + 3x^5)/8",
      "normalization": "X / ||X||_F",
      "after_list": "repeat_last",
      "steps": [[1.875, -1.25, 0.375]]
    }
  ]
}
)json";
  return text;
}

}  // namespace polar_express
