from openai import OpenAI

synstar = OpenAI(
    api_key="sk-WHtP3fS2qHx6kwXoIIXGvOoNZYW2mZp0zVZomHFw",
    base_url="https://www.kkiai.com/v1",
)

plain = OpenAI(api_key="sk-Lq9Zt2Xw8Rv4Nc6Pb3Kd7Ys5Gf1Jh0UaWeQmTn")
