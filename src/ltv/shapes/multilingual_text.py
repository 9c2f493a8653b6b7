"""Texts for the `multilingual` shape: reviews and support messages in Chinese, Portuguese and English.

A review is an opener for its stars, two aspect sentences whose tone follows the stars (a 3-star
review gets one good and one bad), and a closer; a support message is a problem, a tone (angry,
neutral or polite) and a sign-off. Phrases are chosen by pre-drawn random numbers, so the same seed
gives the same texts. Chinese is written without spaces between words, as real Chinese reviews are.
"""

from __future__ import annotations

import numpy as np

LANGUAGES = ("zh", "pt", "en")
LANGUAGE_SHARE = (0.45, 0.4, 0.15)

OPENERS = {
    "zh": {
        1: ("非常失望。", "太差了，千万别买。", "完全是浪费钱。", "质量差得离谱。"),
        2: ("不太满意。", "有点失望。", "和描述的不一样。", "一般偏差。"),
        3: ("还行吧，一般般。", "中规中矩。", "说不上好也说不上坏。", "马马虎虎。"),
        4: ("挺不错的。", "比较满意。", "总体很好。", "值得购买。"),
        5: ("非常满意！", "超级喜欢！", "太棒了，强烈推荐！", "完美，物超所值！"),
    },
    "pt": {
        1: ("Péssimo, não comprem.", "Uma decepção total.", "Dinheiro jogado fora.", "Horrível, me arrependi."),
        2: ("Não gostei muito.", "Fiquei decepcionada.", "Deixou a desejar.", "Abaixo do esperado."),
        3: ("É razoável, nada demais.", "Mais ou menos.", "Tem pontos bons e ruins.", "Achei mediano."),
        4: ("Gostei bastante.", "Muito bom.", "Estou satisfeita.", "Boa compra."),
        5: ("Amei demais!", "Perfeito, recomendo muito!", "Maravilhoso, superou as expectativas!", "Excelente!"),
    },
    "en": {
        1: ("Huge disappointment.", "Save your money.", "Awful, I regret buying it.", "Terrible quality."),
        2: ("Not great, unfortunately.", "A bit of a letdown.", "Below what I expected.", "Sadly it missed the mark."),
        3: ("It's okay, nothing special.", "Mixed feelings.", "Not bad, not great.", "Average at best."),
        4: ("Really nice.", "Pretty happy with it.", "Good value.", "I like it a lot."),
        5: ("Absolutely love it!", "Perfect, highly recommend!", "Best purchase this year!", "Excellent!"),
    },
}
GOOD_ASPECTS = {
    "zh": ("面料很舒服。", "做工精细。", "颜色和图片一样。", "尺码很合适。", "物流很快。", "包装很好。"),
    "pt": ("O tecido é macio.", "O acabamento é caprichado.", "A cor é igual à da foto.", "O tamanho ficou certinho.",
           "Chegou rápido.", "Veio bem embalado."),
    "en": ("The fabric is soft.", "The stitching is neat.", "The colour matches the photos.", "The size is right.",
           "Delivery was fast.", "It came well packed."),
}
BAD_ASPECTS = {
    "zh": ("面料很薄很粗糙。", "线头很多。", "颜色和图片差很多。", "尺码偏小穿不上。", "物流太慢了。", "收到就破了。"),
    "pt": ("O tecido é fino e áspero.", "A costura está soltando.", "A cor é bem diferente da foto.",
           "Ficou muito apertado.", "A entrega demorou demais.", "Chegou rasgado."),
    "en": ("The fabric is thin and rough.", "The seams are coming apart.", "The colour is nothing like the photos.",
           "It is far too tight.", "Delivery took forever.", "It arrived torn."),
}
CLOSERS = {
    "zh": {1: ("已经退货了。", "再也不买了。"), 2: ("不会回购。", "不推荐。"), 3: ("价格便宜就算了。", "凑合用吧。"),
           4: ("会考虑回购。", "推荐购买。"), 5: ("已经回购了！", "强烈推荐给大家！")},
    "pt": {1: ("Vou devolver.", "Nunca mais compro."), 2: ("Não recomendo.", "Não compraria de novo."),
           3: ("Pelo preço, serve.", "Talvez compre de novo."), 4: ("Recomendo.", "Compraria de novo."),
           5: ("Já comprei outra cor!", "Recomendo de olhos fechados!")},
    "en": {1: ("Returning it.", "Never again."), 2: ("Can't recommend it.", "It's going back."),
           3: ("Fine for the price.", "Might keep it."), 4: ("Would recommend.", "Happy overall."),
           5: ("Buy it!", "Ordered a second one!")},
}
REVIEW_DRAWS = 5
MIXED_ASPECT_PERCENT = 20

PROBLEMS = {
    "zh": ("订单{order}的商品收到时已经坏了。", "我的退款{days}天了还没到账。", "订单{order}发错货了。",
           "快递{days}天都没有更新。", "订单{order}被重复扣款了。"),
    "pt": ("O pedido {order} chegou quebrado.", "Meu reembolso não caiu há {days} dias.",
           "Recebi o produto errado no pedido {order}.", "O rastreio não atualiza há {days} dias.",
           "Fui cobrada duas vezes pelo pedido {order}."),
    "en": ("Order {order} arrived broken.", "My refund still hasn't arrived after {days} days.",
           "I received the wrong item in order {order}.", "Tracking hasn't updated in {days} days.",
           "I was charged twice for order {order}."),
}
ANGRY, NEUTRAL, POLITE = 0, 1, 2
TONE_SHARE = (0.3, 0.4, 0.3)
# Satisfaction points a tone costs: an angry customer rates the conversation lower whatever happens.
TONE_PENALTY = np.array([1.6, 0.5, 0.0])
TONE_SENTENCES = {
    "zh": {ANGRY: ("太离谱了，马上给我解决！", "这是我遇到过最差的服务！", "我要投诉，立刻退款！"),
           NEUTRAL: ("请告诉我接下来怎么处理。", "请尽快回复。", "有什么办法吗？"),
           POLITE: ("麻烦帮我看一下，谢谢！", "辛苦了，非常感谢你们的帮助。", "不着急，有空的时候处理就好。")},
    "pt": {ANGRY: ("Isso é um absurdo, resolvam AGORA!", "Pior atendimento que já tive!", "Quero meu dinheiro de volta já!"),
           NEUTRAL: ("Qual é o próximo passo?", "Aguardo retorno.", "Quais são as opções?"),
           POLITE: ("Vocês poderiam verificar, por favor? Obrigada!", "Agradeço muito a ajuda.",
                    "Sem pressa, quando puderem.")},
    "en": {ANGRY: ("This is ridiculous, sort it out NOW!", "Worst service I've ever had!", "I want a refund immediately!"),
           NEUTRAL: ("What happens next?", "Please advise.", "What are my options?"),
           POLITE: ("Could you please look into this? Thanks!", "I really appreciate your help.",
                    "No rush, whenever you can.")},
}
SUPPORT_DRAWS = 3


def draw_languages(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.asarray(LANGUAGES, dtype=object)[rng.choice(len(LANGUAGES), size=size, p=LANGUAGE_SHARE)]


def _choose(options: tuple[str, ...], draw: int) -> str:
    return options[draw % len(options)]


def compose_review(language: str, rating: int, draws: np.ndarray) -> str:
    """Opener for the stars, two aspects (good for 4-5, bad for 1-2, one of each for 3), closer."""
    good, bad = GOOD_ASPECTS[language], BAD_ASPECTS[language]
    first, second = (good, good) if rating >= 4 else (bad, bad) if rating <= 2 else (good, bad)
    if draws[4] % 100 < MIXED_ASPECT_PERCENT:  # people mention a flaw in a good review, a plus in a bad one
        second = bad if rating >= 4 else good
    sentences = [_choose(OPENERS[language][rating], draws[0]), _choose(first, draws[1]),
                 _choose(second, draws[1] + 1 + draws[2] % 3), _choose(CLOSERS[language][rating], draws[3])]
    return ("" if language == "zh" else " ").join(sentences)


def compose_reviews(rng: np.random.Generator, ratings: np.ndarray, languages: np.ndarray) -> list[str]:
    draws = rng.integers(0, 1 << 30, size=(len(ratings), REVIEW_DRAWS))
    return [compose_review(str(language), int(rating), row)
            for rating, language, row in zip(ratings, languages, draws, strict=True)]


def compose_support_message(language: str, tone: int, order: str, days: int, draws: np.ndarray) -> str:
    problem = _choose(PROBLEMS[language], draws[0]).format(order=order, days=days)
    return ("" if language == "zh" else " ").join((problem, _choose(TONE_SENTENCES[language][tone], draws[1])))


def compose_support_messages(rng: np.random.Generator, languages: np.ndarray, tones: np.ndarray,
                             orders: np.ndarray) -> list[str]:
    draws = rng.integers(0, 1 << 30, size=(len(languages), SUPPORT_DRAWS))
    days = rng.integers(2, 15, size=len(languages))
    return [compose_support_message(str(language), int(tone), str(order), int(day), row)
            for language, tone, order, day, row in zip(languages, tones, orders, days, draws, strict=True)]
