"""English, Spanish, French and Portuguese words the reply reader goes by (README, How a case goes).

Plain data, no logic: flows.intents builds DEFAULT_KEYWORDS from the lists per language (which
configuration may replace) and reads replies with the word sets (which it may not). Every entry is
written the way flows.intents.normalize leaves a reply: lower case, no accents, no apostrophes.
"""

from __future__ import annotations


def _split(text: str) -> tuple[str, ...]:
    return tuple(w for w in text.split("|") if w)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _runs(text: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(p.split()) for p in text.split("|"))


# --- default keywords per language: configuration may replace them -----------------------------

# The list names, in flows.intents.Keywords' field order.
LISTS = ("confirm", "reopen", "status", "help", "opt_out", "opt_in")

# Emoji and marks read the same in every language, so they say nothing about which one.
ANY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "confirm": _split("👍|✅|✔|☑|✓|👌"),
    "reopen": _split("👎|❌|✖|✗|✘"),
    "status": (),
    "help": (),
    "opt_out": (),
    "opt_in": (),
}

EN: dict[str, tuple[str, ...]] = {
    # The case is fixed: closes it.
    "confirm": (
        *_split("yes|y|yep|yup|yeah|yea|yeh|yah|affirmative|confirm|confirmed|fixed|resolved"),
        *_split("solved|i confirm|can confirm"),
        *_split("it works|it worked|its working|it is working|working now|works now|works fine"),
        *_split("working fine|works great|working great|works perfectly|working perfectly"),
        *_split("working again|works again|working well|works well|fine now|all fine"),
        *_split("its fine now|all good|all working|all set|all sorted|all fixed|its fixed"),
        *_split("it is fixed|fixed now|been fixed|got fixed|problem solved|issue solved"),
        *_split("issue resolved|problem resolved|is resolved|resolved now|sorted now|its sorted"),
        *_split("back online|back to normal|up and running|service is back|internet is back"),
        *_split("signal is back|no more issues|no more problems|can log in now|can login now"),
        *_split("able to log in|got my refund|got the refund|received the refund"),
        *_split("received my refund|refund received|got my package|got the package"),
        *_split("received my package|package arrived|it arrived|order arrived"),
    ),
    # It still fails, came back or never arrived: reopens the case.
    "reopen": (
        *_split("no|nope|nah|reopen|partially|worse"),
        *_split("re open|please reopen|want to reopen|reopen it|reopen my|reopen the"),
        *_split("reopen this|not fixed|isnt fixed|not resolved|not solved|not sorted"),
        *_split("not working|doesnt work|does not work|didnt work|did not work|dont work"),
        *_split("wont work|not work|stopped working|stopped again|not yet|not really"),
        *_split("not quite|not completely|not entirely|not fully|not better|no better"),
        *_split("dont think so|i think not|yes and no|but it isnt|but its not|but it is not"),
        *_split("but it doesnt|nothing has changed|nothing changed|no change|no changes"),
        *_split("same problem|same issue|same thing|same as before|its broken|is broken"),
        *_split("are broken|is down|its down|getting worse|even worse|its worse|is worse"),
        *_split("got worse|its the same|it is the same|is the same|thanks for nothing"),
        *_split("charged twice|double charged|charged again"),
        *_split("worse than before|only partially|partially fixed|partially working"),
        *_split("partially resolved|only sometimes|works sometimes|working sometimes"),
        *_split("sometimes it|sometimes works|sometimes drops|is intermittent"),
        *_split("works intermittently|working intermittently|on and off|comes and goes"),
        # "still" + what still goes wrong
        *_split("still broken|still broke|still not|still no|still down|still slow"),
        *_split("still failing|still fails|still dropping|still drops|still having"),
        *_split("still getting|still get|still doesnt|still dont|still cant|still cannot"),
        *_split("still isnt|still wont|still havent|still the same|still same|still an issue"),
        *_split("still a problem|still happening|still waiting|still out|still offline"),
        *_split("still dead|still charged|still charging me|still pending|still blocked"),
        *_split("still locked|still frozen|still crashing|still crashes|still missing"),
        *_split("still unable|still intermittent|still doing|still declined|still declining"),
        *_split("still shows|still showing|still says|still saying|still see|still error"),
        *_split("still errors|still an error|still the error|still persists|still nothing"),
        *_split("still have the|still have an|still have a|still have issues|still have no"),
        *_split("still have problems|still experiencing|still seeing"),
        *_split("problem is still|issue is still|problem persists|issue persists"),
        # it came back
        *_split("happened again|happening again|problem is back|issue is back|came back"),
        *_split("broke again|broken again|down again|out again|dropped again|crashed again"),
        *_split("failed again|not again|keeps dropping|keeps failing|keeps crashing"),
        *_split("keeps disconnecting|keeps happening"),
        # no service, nothing arrived
        *_split("no internet|no signal|no service|no connection|no wifi|no dial tone|no data"),
        *_split("no power|no coverage|cant connect|cannot connect|cant log in|cant login"),
        *_split("cannot log in|never arrived|hasnt arrived|not received|no refund"),
        *_split("dont have it|didnt get it|never got it|havent got it|havent gotten"),
    ),
    # Asks how the case is going.
    "status": (
        *_split("status|eta|update|updates|progress|news"),
        *_split("any update|any updates|any news|any progress|any eta|whats the status"),
        *_split("what is the status|the status|status of|status update|whats the eta|the eta"),
        *_split("when will|how long|whats happening|whats going on|where is my|wheres my"),
        *_split("no update|no updates|no news"),
    ),
    # Asks who is writing or for help.
    "help": (*_split("help|info|who is this|whos this|who are you|what is this|need help"),),
    # Stops all messages (carrier keywords).
    "opt_out": _split("stop|stopall|unsubscribe|cancel|end|quit|optout|revoke"),
    # Starts messages again after an opt-out.
    "opt_in": _split("start|unstop"),
}

ES: dict[str, tuple[str, ...]] = {
    "confirm": (
        *_split("si|sip|confirmo|confirmado|resuelto|solucionado|arreglado|funciona|listo"),
        *_split("ya funciona|ya sirve|ya esta|ya quedo|ya se arreglo|funciona bien"),
        *_split("funciona perfecto|todo bien|todo funciona|todo en orden|esta arreglado"),
        *_split("quedo resuelto|ya llego|ya me llego|esta resuelto|esta solucionado"),
        *_split("ya anda|ya jala|se soluciono|se arreglo|ya lo arreglaron|ya tengo internet"),
        *_split("ya tengo servicio|ya tengo senal|ya volvio|volvio el servicio|todo ok"),
        *_split("funciona de nuevo|ya esta funcionando|esta funcionando|pueden cerrar"),
    ),
    "reopen": (
        *_split("no|reabrir|reabran|reabre|reabranlo|reabrirlo"),
        *_split("no funciona|no sirve|no anda|no jala|todavia no|aun no|sigue sin|sigue igual"),
        *_split("sigue fallando|sigue el problema|sigue mal|sigue caido|sigue caida|no se arreglo"),
        *_split("sigue lento|sigue lenta|sigue la falla|sigue pasando|sigue con el|sigue con la"),
        *_split("todavia falla|aun falla|todavia sigue|aun sigue"),
        *_split("no se soluciono|no esta arreglado|no esta resuelto|no esta solucionado"),
        *_split("no me llego|no ha llegado|no llego|sin servicio|sin internet|sin senal"),
        *_split("sin conexion|sin linea|no tengo internet|no tengo servicio|no tengo senal"),
        *_split("no hay servicio|no hay internet|no hay senal|no hay conexion|lo mismo"),
        *_split("igual que antes|esta igual|todo igual|creo que no|no se puede|si y no"),
        *_split("el problema continua|problema continua|continua el problema|continua fallando"),
        *_split("el problema persiste|sigue sin funcionar|no se resolvio|no quedo"),
        *_split("volvio a fallar|volvio a pasar|volvio el problema|se cayo otra vez"),
        *_split("otra vez sin|de nuevo sin|mismo problema|nada cambio|no cambio nada"),
        *_split("no resolvieron|no lo arreglaron|sigue cortandose|se sigue cortando"),
        *_split("a medias|mas o menos|funciona mal|funcionando mal|solo a veces|a ratos"),
    ),
    "status": (
        *_split("estado|estatus|novedades|cuando"),
        *_split("alguna novedad|alguna actualizacion|alguna noticia|hay noticias"),
        *_split("hay novedades|como va|como vamos|que paso con|para cuando|cuanto tiempo"),
        *_split("cuanto falta|en que estado|el estado|hay avance|algun avance|saben algo"),
    ),
    "help": (
        *_split("ayuda|info|informacion"),
        *_split("quien es|quien eres|quienes son|que es esto|necesito ayuda"),
    ),
    # Carriers' Spanish words; ALTO is "stop" (and "high": only alone or before messages).
    "opt_out": _split("stop|baja|alto|parar|cancelar"),
    # Our Spanish templates say "START (o ALTA)".
    "opt_in": _split("start|alta"),
}

FR: dict[str, tuple[str, ...]] = {
    "confirm": (
        *_split("oui|ouais|ouaip|resolu|regle|repare|confirme|fonctionne"),
        *_split("cest regle|cest resolu|cest repare|cest bon|cest ok|ca marche|ca fonctionne"),
        *_split("ca remarche|ca refonctionne|ca marche bien|ca fonctionne bien|tout marche"),
        *_split("tout fonctionne|tout est ok|tout est bon|tout est regle|tout va bien"),
        *_split("probleme resolu|probleme regle|je confirme|bien recu|cest revenu"),
        *_split("internet est revenu|le reseau est revenu|marche maintenant|fonctionne maintenant"),
        *_split("marche de nouveau|fonctionne de nouveau|vous pouvez fermer"),
    ),
    "reopen": (
        *_split("non|rouvrir|reouvrir|rouvrez|reouvrez"),
        *_split("ne marche pas|marche pas|ne fonctionne pas|fonctionne pas|ne marche plus"),
        *_split("marche plus|ne fonctionne plus|fonctionne plus|marche toujours pas"),
        # not "pas encore" alone: "je ne sais pas encore" is a doubt
        *_split("fonctionne toujours pas|toujours pas|pas encore regle|pas encore resolu"),
        *_split("pas encore repare|non pas encore|pas regle|pas resolu"),
        *_split("pas repare|toujours le meme|meme probleme|le probleme persiste"),
        *_split("probleme persiste|toujours en panne|encore en panne|de nouveau en panne"),
        *_split("est en panne|toujours coupe|toujours rien|rien na change|rien a change"),
        *_split("pas de reseau|pas dinternet|pas de connexion|pas de signal|sans reseau"),
        *_split("sans internet|sans connexion|pas recu|jamais recu|ca recommence"),
        *_split("toujours un probleme|toujours des problemes|toujours le probleme"),
        *_split("ca ne va pas|ca coupe encore|ca plante encore|ca bug encore|encore coupe"),
        *_split("a moitie|partiellement|plus ou moins|marche mal|fonctionne mal|par moments"),
        *_split("oui et non|oui mais non"),
    ),
    "status": (
        *_split("statut|etat|quand|avancement|quel delai"),
        *_split("ou en est|ou en sommes nous|ou ca en est|des nouvelles|du nouveau"),
        *_split("combien de temps|mise a jour|cest pour quand|quel est letat"),
    ),
    "help": (
        *_split("aide|info|informations"),
        *_split("besoin daide|qui est ce|cest qui|qui etes vous"),
    ),
    # ARRET is French carriers' word (with STOP); accents do not matter, ARRÊT reads the same.
    "opt_out": _split("stop|arret|arreter|arretez|desabonner|desinscrire|desabonnement"),
    "opt_in": _split("start"),
}

PT: dict[str, tuple[str, ...]] = {
    "confirm": (
        *_split("sim|funcionou|resolvido|resolvida|resolveu|funcionando|confirmo|confirmado"),
        *_split("consertado|consertaram|arrumado|arrumaram|funciona|normalizou"),
        *_split("ja funciona|ja esta funcionando|ja ta funcionando|esta funcionando"),
        *_split("ta funcionando|ja resolveu|ja foi resolvido|foi resolvido|esta resolvido"),
        *_split("problema resolvido|tudo certo|tudo ok|tudo funcionando|ja chegou"),
        *_split("voltou a funcionar|voltou ao normal|podem fechar|pode fechar"),
    ),
    "reopen": (
        *_split("nao|reabrir|reabram|reabra"),
        *_split("nao funciona|nao resolveu|nao resolvido|nao foi resolvido|nao esta resolvido"),
        *_split("nao esta funcionando|nao ta funcionando|nao funcionou|nao consigo"),
        *_split("continua sem|continua com|continua o problema|o problema continua"),
        *_split("continua igual|continua dando|continua falhando|continua caindo"),
        *_split("ainda nao|ainda sem|ainda com|ainda esta com|ainda ta com|ainda da erro"),
        *_split("mesmo problema|a mesma coisa|sem sinal|sem internet|sem servico|sem conexao"),
        *_split("nao chegou|nao recebi|voltou o problema|voltou a falhar|parou de funcionar"),
        *_split("parou de novo|caiu de novo|piorou|nao mudou nada|nada mudou|de novo sem"),
        *_split("mais ou menos|em partes|parcialmente|funciona mal|funcionando mal|as vezes"),
        *_split("sim e nao|sim mas nao"),
    ),
    "status": (
        *_split("status|situacao|previsao|andamento|quando"),
        *_split("qual o status|qual e o status|qual a situacao|alguma novidade|novidades"),
        *_split("alguma atualizacao|quanto tempo|ate quando|como esta o|como anda"),
    ),
    "help": (
        *_split("ajuda|info|informacao"),
        *_split("preciso de ajuda|quem e|quem fala|quem e voce|o que e isso"),
    ),
    "opt_out": _split("stop|parar|cancelar|sair|descadastrar"),
    "opt_in": _split("start"),
}

# The languages with built-in words; a word may be in several ("no" is English and Spanish).
DEFAULT_LANGUAGES: dict[str, dict[str, tuple[str, ...]]] = {"en": EN, "es": ES, "fr": FR, "pt": PT}


# --- vocabulary that is grammar rather than configuration ---------------------------------------

# Greetings, fillers and thanks skipped before a reply's first meaningful word.
GREETINGS = _runs(
    "hi|hello|hey|heya|hiya|hola|buenas|bueno|buenos dias|buenas tardes|buenas noches"
    "|good morning|good afternoon|good evening|ok|okay|k|kk|oh|ah|well|um|umm|uh|hmm|so|and|dear"
    "|sir|maam|wow|lol|thanks|thank you|thank u|thanks a lot|thx|ty|tks|gracias|muchas gracias"
    "|pues|ok so|great|perfect|awesome|excellent|cool|nice|genial|perfecto|excelente"
    "|bonjour|bonsoir|salut|coucou|allo|merci|merci beaucoup|merci bien|daccord|parfait|super"
    "|oi|ola|bom dia|boa tarde|boa noite|obrigado|obrigada|muito obrigado|muito obrigada|valeu"
    "|beleza|otimo|perfeito|tudo bem"
)
# Words that ask for something ("please", "can you", "quiero").
# Request lead-ins come before reopen, status, help and stop words, never before a confirm word.
LEAD_INS = _runs(
    "please|pls|plz|kindly|just|can you|could you|would you|will you|can u|could u|i want to"
    "|i wanna|i would like to|id like to|i need to|i want you to|i need you to|por favor"
    "|favor de|quiero|necesito|puedes|pueden|podrian"
    "|svp|stp|sil vous plait|sil te plait|merci de|je veux|je voudrais|pouvez vous|pourriez vous"
    "|je souhaite|quero|gostaria de|preciso|pode|podem|favor"
)
# Words around a stop request that leave it a stop request ("stop now please").
POLITE = _runs(
    "please|pls|plz|now|thanks|thank you|thx|ty|asap|immediately|right now|por favor|gracias|ya"
    "|svp|stp|sil vous plait|merci|maintenant|tout de suite|obrigado|obrigada|agora|ja|ahora"
)
# Words that make a confirm in the same sentence uncertain ("maybe", "later").
HEDGES = _words(
    "if whether maybe perhaps possibly might hopefully hope unsure later tomorrow should when"
    " once until unless quizas quiza talvez luego despues aviso checking testing trying"
    " unfortunately sadly lamentablemente desafortunadamente"
    " peutetre demain dirai verrai essaierai testerai malheureusement talvez depois amanha"
    " infelizmente aviso avisarei ojala espero jespere tomara"
)
# Phrases that do the same as HEDGES ("not sure", "will check").
HEDGE_RUNS = _runs(
    "not sure|no se|dont know|let you know|let u know|ill check|will check|let me check|ill see"
    "|will see|lets see|ill test|will test|ill try|will try|havent tested|havent tried"
    "|havent checked|not tested|not tried|for now|tal vez|a lo mejor|mas tarde|por ahora"
    "|peut etre|je ne sais pas|je sais pas|sais pas|pas sur|plus tard|ce soir|je vais voir"
    "|je vais tester|je vais verifier|je verifie|je teste|on verra|pour linstant|pour le moment"
    "|je vous dis|je vous tiens au courant|nao sei|vou ver|vou verificar|vou testar|vou conferir"
    "|mais tarde|por enquanto|ainda nao testei|nao testei|te aviso|lhe aviso|eu aviso"
)
# Words that make a sentence they open a question, "?" or not.
QUESTION_OPENERS = _words(
    "is does did will would should can could has have are was were do am shall may how why"
    " where when what est sera"
)
# A bare "no" is the weakest reopen signal: next to a confirm phrase or a hedge it is unclear.
BARE_NO = _words("no nope nah nop non nao")
# The plain "no" of each language, which NOT_A_NO may turn into something else.
PLAIN_NO = _words("no non nao")
# "no" opens many replies that are not "not fixed": these continuations make it something else.
NOT_A_NO = _runs(
    "problem|problems|prob|probs|problemo|worries|worry|rush|hurry|need|thanks|thank|thx|ty"
    "|gracias|update|updates|news|idea|clue|issue|issues|more issues|more problems"
    "|hay problema|pasa nada|te preocupes|se preocupe|hay de que|hay prisa|se"
    "|merci|pas de souci|pas de probleme|de rien|je sais pas|obrigado|obrigada|tem problema"
    "|sei|precisa|de nada|problema"
)
# Negations that turn a following "works" word around (French "ne", Portuguese "nao" included).
NEGATIONS = _words(
    "not dont doesnt didnt isnt arent wasnt werent cant cannot couldnt wont wouldnt never hasnt"
    " havent hadnt aint unable no nunca nothing none nobody nada nadie ne jamais rien nao nem"
)
# Words that may stand between a negation and what it negates ("doesnt seem to work").
NEGATION_GAP = _words(
    "to be been being seem seems it its is the my this that really fully completely quite still"
    " yet properly actually even always totally entirely all get getting think believe me able"
    " say im i we they me te le nos les se lo la esta ha han he of make"
    " foi ta estou"
)
# English "it works" words: negated ("doesnt work") they say it still fails.
WORKS = _words(
    "work works working worked fixed fix resolved solved sorted connect connects connecting"
    " connected load loads loading loaded login log logon signin access online through charge"
    " charging send sending receive receiving received arrive arrived better stream streaming"
    " open opens opening boot booting turn ring ringing calls pay payment payments transfer"
    " transfers purchases withdraw"
)
# Spanish, French and Portuguese "it works" words: after any negation, "no" included, it still
# fails. Spanish negates with "no", which English replies also start with ("no, it works now").
WORKS_ROMANCE = _words(
    "funciona funcionan funciono funcionando sirve sirven anda jala carga conecta conectar entra"
    " entrar llega llego llegado arreglado arreglaron resuelto resolvieron solucionado"
    " solucionaron abre prende enciende"
    " marche marchent fonctionne fonctionnent regle resolu repare charge connecte recu"
    " funcionou funcionam resolveu resolvido resolvida consertado consertou arrumou arrumado"
    " chegou carrega conecta liga"
)
# Words that may follow a 1-5 CSAT score ("5 stars").
RATING_WORDS = _words("star stars estrella estrellas etoile etoiles estrela estrelas ⭐ 🌟")
# Words that come before a case number ("case 1042"); not read for intent.
CASE_WORDS = _words("case caso ticket ref #")
# Opt-out words that stop messages on their own; the others need a word about messages after them
# ("cancel my order" and "the end of the cable" are not opt-outs).
STRONG_OPT_OUT = _words(
    "stop stopall unsubscribe optout baja parar arret arreter arretez desabonner desinscrire"
    " desabonnement descadastrar"
)
# Opt-out words read only as spelled: a typo of them is too often a real word ("alta", "said").
EXACT_OPT_OUT = _words("alto sair parar cancelar")
# A keyword followed by these is another word ("SIM card" is not Portuguese "yes").
NOT_KEYWORDS = _runs("sim card|sim cards|sim chip|sim swap|sim tray|sim slot|sim pin|sim lock")
# Opening words of a stop request: True if STOP_TAIL words may follow, False if MESSAGING must.
STOP_HEADS: dict[tuple[str, ...], bool] = {
    **dict.fromkeys(
        _runs(
            "opt out|opt me out|remove me|take me off|dont text|dont message|dont contact"
            "|dont send|do not text|do not message|do not contact|do not send|never text"
            "|no me envien|no me manden|no me escriban|no me contacten|darme de baja|dame de baja"
            "|denme de baja|me desabonner|me desinscrire|desabonnez moi|retirez moi"
            "|supprimez moi|me retirer|me tire da lista|me tirem da lista|me remova|me descadastre"
            "|me descadastrem|sair da lista|cancelar inscricao"
        ),
        True,
    ),
    **dict.fromkeys(
        _runs(
            "no more|no mas|dejen de|deja de|no quiero mas|no quiero recibir|ya no quiero"
            "|je ne veux plus|je veux plus|ne plus recevoir|arretez de|arrete de|plus de"
            "|nao quero mais|nao quero receber|parem de|para de|chega de"
        ),
        False,
    ),
}
# Words about messages that make a weak opt-out a stop request ("cancel the texts").
MESSAGING = _words(
    "messages message msgs msg texts text texting txt txts txting sms notifications notification"
    " notifs alerts alert updates update reminders reminder spam spamming messaging msging"
    " sending send contacting contact emailing emails email calling calls bothering pinging"
    " whatsapp whatsapps mensajes mensaje notificaciones alertas enviar enviarme mandar mandarme"
    " escribir escribirme contactarme molestar molestarme correos"
    " texto textos menvoyer mecrire envoyer contacter mecrivez menvoyez mensagens mensagem"
    " notificacoes enviar mandar"
)
# Words that may follow an opt-out word in a stop request ("stop texting me pls").
STOP_TAIL = MESSAGING | _words(
    "me us my number phone cell from this these that those the all any your you u ur guys to of"
    " on list lists anymore again now please pls plz it bot forever immediately thanks thank at"
    " with annoying stupid damn automated de los las estos estas mas ya por favor sus mi numero"
    " lista liste la le les des du da do das dos a al em en ce cette ces mes meu minha meus seu"
    " sua votre vos moi plus mais maintenant agora svp stp merci obrigado obrigada recevoir"
    " receber recibir"
)
# Real words within typo distance of a default keyword: never read as a typo of it.
NOT_TYPOS = _words(
    "year yeas confer confers confide confine conform conforms conforme confiar confite confin"
    " conferred confided confined conformed faxed filed fined fired fixer fixes foxed reserved"
    " resold resolver resolves resorted resulted revolted revolve revolved revolver revolves"
    " removed salved soled soloed solver solves isp confiado confieso conforto confinado"
    " confirmando confirmanda confiscado confitado conformador resalto resello respecto respeto"
    " resuello result resulta results retuerto revuelco revuelo revuelta revuelto recuelo"
    " recuento recuesto regueldo repuesto respuesto agregado arreglar arreglo arrendado"
    " arrestado arrollado atreguado funcion function functions functional furcion affirmation"
    " node noe nome none nose note nape rearar rebatir recubrir referir reherir reagan refran"
    " reran states stats statue statues estada estadio estajo estalo estano estrado entado"
    " estas estasis estatal estate estates estatua estatuar estatuir estatura estatuto eat tea"
    " undated uptakes upstates prioress process profess programs prowess neds neis neos nes"
    " nets nevs newt newts nows cuado cuanto cunado heap heep held hell helm hemp hep helo"
    " indo into aguda aluda ayuna ayuga inflamacion infamacion slop sop step stol stomp stoop"
    " stow strop swop shop stall cancer cantel caucel chancel carcel ned qui quia quid quiet"
    " quilt quio quip quita quite quito quits quiz quoit evoke bajar bajo bala bana basa bata"
    " baya baza baa baca bada baga bajia"
    # near the French, Portuguese and Spanish keywords
    " ano ism lista listas listos liste lists regla reglas regles reglo repara reparo reparar"
    " repart repere concertado conservado consertar arruinado arruinada arrumar etait etal etau"
    " etats ete quant quanta quantos quanto precisao aime aile aise aine aids aida arrest"
    " arrets arrested cancelado cancelada cancelan cancelas canceler cancelei preciso precisa"
    " precisamos noon"
)
# Words besides the keywords that say which language a reply is in: thanks, greetings and common
# small words. A word under several languages counts for each; a reply's language is the one most
# of its words are in, so "no" alone is no language and "no, todavía no funciona" is Spanish.
LANGUAGE_MARKERS: dict[str, frozenset[tuple[str, ...]]] = {
    "en": _runs(
        "thanks|thank you|thx|please|pls|hi|hello|hey|the|it|its|is|my|this|that|doesnt|dont"
        "|didnt|isnt|not|still|and|but|with|have|has|was|will|now|again|working|work|works|yet"
        "|can|cant|of|what|when|where|why|how|you|your|we|our|for|just|got|sorry|am|im|are"
        "|text|texts|texting|to|unable|send|sending|messages|opt|out|call|bill|order"
        "|star|stars"
    ),
    "es": _runs(
        "gracias|muchas gracias|hola|buenas|buenos dias|el|los|las|es|mi|ya|todavia|aun|pero"
        "|con|sigue|tengo|hay|usted|ustedes|lo|nada|igual|otra vez|ahora|tambien|muy|bien"
        "|funciona|funcionando|senal|favor|caso|cuando|donde|como|porque|problema"
        "|estrella|estrellas|mensajes|mensaje|enviarme|mandarme|dejen|llega|llego"
    ),
    "fr": _runs(
        "merci|merci beaucoup|bonjour|bonsoir|salut|le|les|est|cest|ca|ne|pas|mon|ma|mes"
        "|encore|toujours|je|vous|avec|plus|jai|nest|du|des|un|une|et|tres|bien|rien|quand"
        "|dossier|probleme|svp|sil vous plait|daccord|etoile|etoiles|sur 5"
        "|messages|menvoyer|recevoir"
    ),
    "pt": _runs(
        "obrigado|obrigada|muito obrigado|muito obrigada|oi|ola|bom dia|boa tarde|boa noite"
        "|o|os|meu|minha|ainda|nao|com|voce|voces|ja|tem|ta|estou|agora|tambem|muito|bem"
        "|nada|problema|quando|onde|como|porque|valeu|sinal|estrela|estrelas"
        "|da|do|das|dos|mensagem|mensagens|inscricao|chamado"
    ),
}
