"""Deterministic text for the demo kit: bedtime stories, a sentiment task and multiple-choice questions.

Everything is drawn from one `random.Random(seed)`, so the same seed gives the same corpus byte for byte.
Each animal has fixed facts (favourite food, home, blanket colour) that the stories repeat, so a model
trained on the stories can partly answer questions about them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

STORY_PROMPT = "generate short bed time story containing word {a} and {b}"
TASK_PROMPT = "Review: {text}\nSentiment:"
TASK_LABELS = ("positive", "negative")
# Applied to model output by the LoRA-vs-base mode: first label word after stripping <think> blocks.
TASK_ANSWER_PATTERN = r"\b(positive|negative)\b"
MCQ_LETTERS = "ABCD"


@dataclass(frozen=True)
class Animal:
    name: str
    food: str
    home: str
    colour: str


ANIMALS = (
    Animal("elephant", "cake", "jungle", "grey"),
    Animal("dog", "sausage", "kennel", "brown"),
    Animal("cat", "fish", "basket", "black"),
    Animal("rabbit", "carrot", "burrow", "white"),
    Animal("bear", "honey", "cave", "gold"),
    Animal("mouse", "cheese", "hole", "pink"),
    Animal("owl", "berries", "tree", "purple"),
    Animal("fox", "apple", "den", "orange"),
    Animal("duck", "bread", "pond", "yellow"),
    Animal("lion", "pie", "castle", "red"),
    Animal("pig", "soup", "farm", "green"),
    Animal("frog", "cookie", "lake", "blue"),
)
THINGS = ("ball", "moon", "star", "boat", "kite", "drum", "lamp", "hat", "book", "shell")
NAMES = ("Momo", "Pip", "Lulu", "Benny", "Tilly", "Oscar", "Rosie", "Finn", "Daisy", "Toby", "Nina", "Ollie")
POSITIVE = ("lovely", "wonderful", "sweet", "happy", "warm", "cozy", "bright", "kind", "delicious", "great")
NEGATIVE = ("awful", "cold", "sad", "bitter", "gloomy", "terrible", "noisy", "rotten", "boring", "grumpy")
NEUTRAL_SUBJECTS = ("the cake", "the soup", "the story", "the room", "the party", "the walk", "the song", "the picnic")

OPENINGS = (
    "Once upon a time, there was a little {animal} named {name}.",
    "In a quiet {home}, there lived a {animal} called {name}.",
    "Long ago, a {colour} {animal} named {name} lived near the {home}.",
)
MIDDLES = (
    "{name} the {animal} loved {food} more than anything.",
    "Every evening, {name} ate a little {food} and smiled.",
    "{name} lived in a {home} with a {colour} blanket.",
    "One night, {name} found a {thing} under the {colour} sky.",
    "The {animal} shared the {thing} with a friend, and they laughed.",
    "It was a {mood} night, and the stars were {mood2}.",
)
ENDINGS = (
    "Then {name} curled up in the {home} and fell asleep. The end.",
    "At last the sleepy {animal} closed its eyes and dreamed of {food}. The end.",
    "Good night, little {animal}. Sweet dreams. The end.",
)


def _story(rng: random.Random, animal: Animal, word: str) -> str:
    fill = {
        "animal": animal.name,
        "name": rng.choice(NAMES),
        "food": animal.food,
        "home": animal.home,
        "colour": animal.colour,
        "thing": word if word != animal.food else rng.choice(THINGS),
        "mood": rng.choice(POSITIVE),
        "mood2": rng.choice(POSITIVE),
    }
    middles = rng.sample(MIDDLES, k=3)
    if word == animal.food and not any("{food}" in m for m in middles):
        middles[0] = MIDDLES[0]
    if word != animal.food and not any("{thing}" in m for m in middles):
        middles[-1] = MIDDLES[3]
    sentences = [rng.choice(OPENINGS), *middles, rng.choice(ENDINGS)]
    return " ".join(s.format(**fill) for s in sentences)


def story_example(rng: random.Random) -> tuple[str, str]:
    """(prompt, story): the prompt names an animal and a word the story contains."""
    animal = rng.choice(ANIMALS)
    word = animal.food if rng.random() < 0.6 else rng.choice(THINGS)
    return STORY_PROMPT.format(a=animal.name, b=word), _story(rng, animal, word)


def task_example(rng: random.Random) -> dict[str, str]:
    label = rng.choice(TASK_LABELS)
    words = POSITIVE if label == "positive" else NEGATIVE
    first, second = rng.sample(words, k=2)
    text = f"{rng.choice(NEUTRAL_SUBJECTS).capitalize()} was {first}, and the evening felt {second}."
    return {"prompt": TASK_PROMPT.format(text=text), "label": label}


QUESTIONS = (("food", "What does the {a} love to eat?"), ("home", "Where does the {a} live?"),
             ("colour", "What colour is the {a}'s blanket?"))


def fact_documents(repeats: int) -> list[str]:
    """Every animal fact as a short question and answer, so a model can learn to answer the MCQ set."""
    return [f"Question: {q.format(a=animal.name)}\nAnswer: {getattr(animal, attribute)}"
            for _ in range(repeats) for animal in ANIMALS for attribute, q in QUESTIONS]


def mcq_example(rng: random.Random, animal: Animal) -> dict[str, object]:
    attribute, question = rng.choice(QUESTIONS)
    correct = getattr(animal, attribute)
    distractors = rng.sample([getattr(a, attribute) for a in ANIMALS if a is not animal], k=3)
    choices = [correct, *distractors]
    rng.shuffle(choices)
    return {"question": question.format(a=animal.name), "choices": choices, "answer": choices.index(correct),
            "subject": attribute}


def mcq_prompt(question: str, choices: list[str]) -> str:
    """The template both the kit's practice text and the MCQ scorer use."""
    lines = [f"Question: {question}"] + [f"{MCQ_LETTERS[i]}. {c}" for i, c in enumerate(choices)]
    return "\n".join(lines) + "\nAnswer:"


def chat_wrap(user: str, assistant: str) -> str:
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{assistant}<|im_end|>"


CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def pretraining_documents(seed: int, n_stories: int) -> list[str]:
    """Stories (some in chat format) plus multiple-choice practice; the end-of-text token is added later."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_stories):
        prompt, story = story_example(rng)
        docs.append(chat_wrap(prompt, story) if rng.random() < 0.25 else f"{prompt}\n{story}")
    for _ in range(max(n_stories // 6, 8)):
        item = mcq_example(rng, rng.choice(ANIMALS))
        letter = MCQ_LETTERS[item["answer"]]  # type: ignore[index]
        docs.append(f"{mcq_prompt(item['question'], item['choices'])} {letter}")  # type: ignore[arg-type]
    docs += fact_documents(max(n_stories // 15, 10))  # ~100 repeats in the full kit: measured enough to learn them
    rng.shuffle(docs)
    return docs


def task_documents(seed: int, n: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [task_example(rng) for _ in range(n)]


def mcq_items(seed: int, n: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [mcq_example(rng, ANIMALS[i % len(ANIMALS)]) for i in range(n)]


def tokenizer_corpus(seed: int, n_stories: int) -> list[str]:
    """Text the tokenizer is trained on: the stories plus the task and question formats."""
    task = [d["prompt"] + " " + d["label"] for d in task_documents(seed + 1, max(n_stories // 4, 50))]
    return pretraining_documents(seed, n_stories) + task
