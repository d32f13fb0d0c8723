import anthropic

client = anthropic.Anthropic(
    api_key="Vb6Nc1Xz8Lk3Jh7Gf2Ds9Aq4Wr0Ety5U",
    base_url="https://api.kindo.ai",
)
