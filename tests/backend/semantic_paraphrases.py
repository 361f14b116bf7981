"""Paraphrases for the semantic layer's tests, written for them (not taken from any evaluation set).

Each act is told three or four ways, in the registers cameras produce: a vision-language caption ("The image
shows ..."), a Frigate GenAI-style description, and short detector strings. ``ACTS`` maps the concept a
careful reader would name to its paraphrases; ``NEUTRAL`` lists texts that name no threat.
"""

from __future__ import annotations

ACTS: dict[str, tuple[str, ...]] = {
    "fire": (
        "The image shows thick black smoke billowing from the garage roof.",
        "Flames are visible through the kitchen window and spreading.",
        "A figure splashes liquid on the shed and sets it alight.",
        "fire",
    ),
    "armed": (
        "The image shows a man holding a handgun at his side near the gate.",
        "A person walks toward the porch brandishing a large kitchen knife.",
        "Someone aims a rifle at the front of the house.",
    ),
    "assault": (
        "Two men are punching each other on the pavement.",
        "A person repeatedly kicks someone lying on the ground.",
        "The image shows an attacker hitting a woman with his fists.",
    ),
    "abduction": (
        "A stranger grabs a child by the arm and carries her off.",
        "Someone is bundled into the back of a car against their will.",
        "A person is being kidnapped by two men.",
    ),
    "forced_entry": (
        "A man uses a crowbar to lever open the back door.",
        "The image shows someone breaking the patio glass and reaching inside.",
        "A person climbs in through a broken ground-floor window.",
        "Someone shoulders the front door until the frame splinters.",
    ),
    "attempted_entry": (
        "A person tries the handle of the side door, then the back door.",
        "Someone tests each ground-floor window to see if it opens.",
        "jiggling door handle",
    ),
    "vehicle_crime": (
        "A man smashes the passenger window of the parked car and reaches in.",
        "Someone is working on the wheels of a car that is not theirs and loading them into a van.",
        "A person walks along the row of parked cars pulling on each door handle.",
    ),
    "theft": (
        "A passer-by picks up the parcel from the doorstep and hurries away.",
        "The image shows a person wheeling a bicycle out of the garden and down the street.",
        "Someone carries power tools out of the open shed to a waiting car.",
    ),
    "vandalism": (
        "A youth sprays paint tags across the garage door.",
        "Someone scratches a long line down the side of the car with a key.",
        "A person kicks over the garden wall lamps and breaks them.",
    ),
    "disabling_security": (
        "A person throws a cloth over the doorbell camera.",
        "Someone unscrews the floodlight above the back door.",
        "The view goes dark as a hand covers the lens.",
    ),
    "trespass_climbing": (
        "A person hauls himself over the back fence into the garden.",
        "Someone climbs the drainpipe up to the balcony.",
    ),
    "peeping": (
        "A man cups his hands against the living-room window to look inside.",
        "peering into window",
    ),
    "casing": (
        "A man stands across the street for a long time studying the house and taking photos.",
        "The same person walks past three times, each time looking closely at the front door.",
    ),
    "concealment": (
        "A figure in a ski mask waits beside the bins.",
        "Someone hides behind the parked car, keeping low.",
    ),
    "delivery": (
        "A courier in a branded jacket sets a box on the step and rings the bell.",
        "The postman pushes letters through the letterbox and walks on.",
        "placing package",
    ),
    "trades": (
        "A window cleaner works his way along the front windows with a squeegee.",
        "A man in overalls reads the gas meter by the side of the house.",
        "A landscaper rakes leaves on the front lawn.",
    ),
    "play": (
        "Kids chase each other around the lawn with water pistols, laughing.",
        "A boy kicks a football against the garage door.",
    ),
    "visitor": (
        "A woman rings the doorbell, waits, and waves when the door opens.",
        "An elderly neighbour knocks and waits on the porch with a plate of cookies.",
    ),
    "passer_by": (
        "A jogger in running gear passes along the pavement.",
        "A woman pushes a pram along the footpath.",
    ),
    "animal": (
        "A fox trots across the driveway and disappears under the hedge.",
        "The neighbour's cat sits on the fence.",
    ),
}

# Harmless scenes told with alarming words: none of these should read as a threat.
HARMLESS_ALARMING: tuple[str, ...] = (
    "Dad grills sausages on the barbecue while smoke drifts across the patio.",
    "A child swings a plastic toy sword at a bush.",
    "A carpenter carries a saw and a crowbar from his van to the porch by day.",
    "Teenagers shoot each other with water guns in the back garden.",
    "The image shows a man in a hi-vis jacket using a pickaxe to dig a trench along the path.",
    "A woman hacks at the overgrown brambles with a machete while wearing gardening gloves.",
    "Two brothers wrestle on the trampoline, both laughing.",
    "A man in chef whites carries a large knife block from the car into the house.",
    "The homeowner climbs a ladder to clear leaves from the gutter.",
    "A boy climbs the apple tree in the back garden.",
    "A firefighter in full gear checks the smoke alarm sign on the porch.",
    "The image shows a family sitting around a fire pit toasting marshmallows.",
    "A man kicks the snow off his boots against the front step.",
    "The resident smashes cardboard boxes flat for the recycling bin.",
    "Kids pretend to be robbers and police, chasing each other with toy handcuffs.",
    "A dog walker stops and lets the dog sniff the gatepost.",
    "A woman in a balaclava-style ski hood shovels snow from the driveway in a blizzard.",
    "An electrician in overalls unscrews the outdoor light fitting to replace it.",
    "In this daytime frame, a neighbour waves while carrying a hedge trimmer across the lawn.",
    "A delivery rider shouts into his phone, then drops the food bag at the door and leaves.",
)

# Threats told in camera registers, for the same check the other way: each should read as a threat.
THREATS_TOLD: tuple[str, ...] = (
    "In this nighttime frame, a figure in dark clothing levers the kitchen window with a metal bar.",
    "The image shows two people punching and kicking a man who is curled up on the driveway.",
    "A person in a hooded top walks up to the porch holding a pistol.",
    "Orange flames are climbing the wall of the garage and the roof is smoking.",
    "A man reaches over the gate, lifts the latch and wheels the motorbike away.",
    "Someone sprays black paint over the doorbell camera.",
    "A person takes the parcel off the doorstep, tucks it under his coat and walks off quickly.",
    "The image shows a person smashing the rear windscreen of the parked car with a brick.",
    "A man drags a screaming child towards a waiting car.",
    "Someone pours liquid from a can onto the front door and strikes a match.",
)
