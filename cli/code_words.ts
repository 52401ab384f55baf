/**
 * The 2,048 words codes are made of (11 bits each): lowercase English words
 * of 4 or 5 letters, picked from Debian's `wamerican-small` word list (SCOWL
 * size 35, the most common words) among those the list also has in inflected
 * forms (a plural, a past tense, an -ing or -er form: a rough sign that a word
 * is common), with a few unpleasant or ambiguous words left out. Data only.
 *
 * @module
 */

const WORDS = `
abate abbey abbot abet abhor abide abode abuse ache acid acorn acre
actor acute adage adapt adept admit adobe adopt adore adorn adult affix
agent agree aide aisle alarm album alert alibi alien align aline allay
alley allot allow alloy altar alter alto amaze amble ameba ameer amend
amir amuse angel anger angle ankle annex annoy annul antic anvil aorta
apex appal apple apron arbor arch ardor area arena argue aria arise
armor aroma array arrow aside aspen asset atom atone attic audio audit
aunt aura auto avail avert avoid avow await awake award axiom axle
azure babe back badge bagel bail bait bake baker bald bale balk
ball balm band bang banjo bank barb bard bare barge bark barn
baron base bash basic basin bask baste batch bath bathe baton baud
bawl bayou beach bead beak beam bean bear beard beast beat beech
beef beer beet befit begin being belch belie bell belt bench bend
bent beret berth beset best bide bigot bike bill bind birch bird
birth bison bite blab black blade blame blank blare blast blaze bleat
blend blimp blind blink blip blitz blob bloc block blog blond blood
bloom blot blow blue bluff blunt blur blurt blush boar board boast
boat bode boil bolt bond bone book boom boon boor boost boot
booth bore bosom botch bough bound bout bowel bowl boxer brace brag
braid brain brake brand brat brave bravo brawl bray bread break brew
bribe brick bride brief brim bring brink brisk broad broil brood brook
broom broth brow brown brush brute buck budge buff bugle build bulb
bulge bulk bull bump bunch bunk buoy burn burp burr burro burst
bush butt butte buyer buzz byte byway cabin cable cacao cache cadet
cage cake calf calk call calm calve camel cameo camp canal cane
canoe canon cape caper carat card care cargo carol carp cart carve
case cash cask cast caste catch cater caulk cause cave cease cedar
cede cell cello cent chafe chaff chain chair chalk champ chant chap
char charm chart chase chasm chat cheat check cheek cheep cheer chef
chest chew chick chid chide chief chile chili chill chime chimp chin
chink chip chirp choir choke chop chord chore chow chuck chug chum
chunk churn chute cider cigar cinch cite civic clack claim clam clamp
clan clang clank clap clash clasp claw clean clear cleat clef cleft
clerk click cliff climb clime cling clink clip cloak clock clod clog
clone close clot cloth cloud clout clove clown club cluck clue clump
coach coal coast coat coax cobra cocoa code coil coin coke cold
colon color colt coma comb come comet comic comma cone cook cool
coop cope coral cord core cork corn cost couch cough count coup
court cove cover covet cower crab crack craft crag cram cramp crane
crank crash crate crave crawl craze creak cream creek creep crepe crest
crew crib crime crisp croak crock crook croon crop crow crowd crown
crumb crush crust crux crypt cube cuff cull cult curb curd cure
curio curl curse curve cycle cynic cyst czar dame damp dance dare
darn dart dash date daub daunt dawn daze deal dean dear debit
debt debug debut decay deck decoy deem deep deer defer deign delay
deli delta delve demon denim dent depot depth desk deter devil dial
dice diet digit dike dill dime dine diner dirge disc disco dish
disk ditch ditto dive diver dock dodge doer dogma dole doll dome
donor donut doom door dope dose dote doubt douse dove down doze
dozen drab draft drag drain drama drape draw drawl dread dream drier
drift drill drink drip drive drone drool droop drop drove drown drum
drunk dryer duck duct dude duel duet duke dull dump dunce dune
dung dunk dupe dust dwarf dwell eagle earl earn earth ease easel
eave echo edge edict edit eight eject elbow elder elect elite elope
elude email ember emir emit enact endow enema enjoy enrol ensue enter
envoy epic epoch equal equip erase erect erode error erupt essay etch
ethic evade even event evict evil evoke exact exalt exam excel exert
exile exist exit expel extol extra exude exult fable face facet fact
fade fagot fail faint fair faith fake fall fang farce fare farm
fast fate fault fauna favor fawn faze fear feast feat feel feign
feint fell felon felt fence fend fern fetch feud fever fiber field
fiend fifth fight filch file filet fill film final finch find fine
fire firm first fish fist five fizz flag flail flair flak flake
flame flank flap flare flash flask flat flaw flea fleck flee fleet
flesh flex flick flier fling flint flip flirt flit float flock flog
flood floor flop flora flour flout flow flue fluff fluid fluke flunk
flush flute flux flyer foal foam fogey foil foist fold folk font
food fool foot foray force ford fore forge forgo fork form fort
forte forum foul found fount four fowl foyer frame franc frank fraud
fray freak free fret friar frill frisk frock frog frond front frost
froth frown fruit fudge fuel full fume fund furl furor fuse fuze
fuzz gable gage gain gait gala gale gall game gamut gang gape
garb gash gasp gate gauge gavel gawk gaze gear geld gene genie
genre gent germ ghost ghoul giant gibe gift gild gill gilt girl
girth give given glad glade gland glare glaze gleam glean glen glide
glint gloat globe glove glow glue glut gnarl gnash gnat gnaw gnome
goad goal goat gold golf goner gong good goof goon goose gore
gorge gouge gourd gown grab grace grade graft grain gram grand grant
grape graph grasp grate grave gray graze great green greet grey grid
grief grill grim grime grin grind grip gripe grit groan groin groom
grope group grove grow growl grub grunt guard guest guide guild guise
gulch gulf gull gulp guru gush gust gybe habit hack hail hair
hale hall halo halt halve hand hang hare harem hark harm harp
hart hash haste hatch hate haul haunt have haven hawk haze hazel
head heal heap hear heart heat heave hedge heel heir hello helm
help herb herd hero heron hick hide high hike hiker hill hilt
hind hinge hint hire hitch hive hoard hoax hobo hock hoist hold
hole home homie hone honey honk honor hood hoof hook hoop hoot
hope horde horn horse hose host hotel hound hour house hovel hover
howl huff hulk hull human humor hunch hunk hunt hurl hurt hush
husk hutch hyena hymn icing icon idea ideal idiom idiot idle idol
igloo image impel inch incur index infer inlay inlet input inter iota
iron isle issue itch item jack jade jail jamb jaunt jazz jeer
jell jerk jest jewel jibe jilt jinx join joint joke joker jolt
judge juice jumbo jump junk junta juror kayak keel keen keep kick
kiln kind kink kite knack knead knee kneel knock know label labor
lace lack lade ladle lamb lame lance land lapse lard large lark
lash last latch lath lathe laud laugh layer lead leaf leak lean
leap learn lease leash leave ledge leech leer left lend level lever
libel lick lift light like liken lilt limb lime limit limp line
link lisp list live liven load loaf loan loath lock lodge loft
loll long look loom loop loose loot lope lord lose love lower
luck lull lump lunch lung lunge lurch lure lurk lush lust lynch
mace mail maim major make malt march mark mash mask mast match
mate matt matte maul mean meet melt mend meow merge merit mesh
mete meter miaow mike milk mill mime mince mind mine minor mint
mire mist moan mock model mold molt moon moor moot mope morn
moth motor mound mount mourn mouse mouth move muck mulch mull munch
muse mush must mute mutt nail name near neck neigh nerve nest
nick noble noise nose notch note nudge numb nurse obey offer ogle
okay ooze open orbit order oust outdo pace pack page pain paint
pair pale pall palm panel pant paper parch pare park parse part
past paste patch pause pave pawn peak peal pearl peck pedal peek
peel peep peer peeve pelt pend perch peril perk pest peter phase
phone photo pick piece pike pile pill pilot pinch pine pink pipe
pique pitch pivot place plain plan plane plank plant plate play plea
plead pleat plow pluck plum plumb plume plump poach point poise poke
pole polka poll pond pool pore port pose post pouch pound pour
pout power prawn pray preen prey price prick pride prim prime primp
print prize probe proof prop prove prowl prune psych puck puff puke
pull pulp pulse pump punch punk punt pure puree purge purr purse
push putt quack quail quake quart quash queen queer quell quest queue
quiet quilt quirk quote race rack radio raft rage raid rail rain
raise rake ranch rang range rank rant rapid rare rash rasp rate
rave ravel raven raze reach react read real ream reap rear redo
reef reek reel regal reign rein relax relay rend renew rent repay
rest retch reuse revel rhyme rice rich ride ridge rifle rift right
rile ring rinse riot ripen rise risk rival rivet roam roar roast
robe rock roll romp roof rook room roost root rope rouge rough
round rouse rout route ruff ruin rule rumor rush rust sack safe
sage sail salt salve sand sauce sauna save savor scald scale scalp
scant scar scare scarf scent scoff scold scoop scoot scope score scorn
scour scout scowl scrap scuff seal seam sear seat seek seem seep
seize sell send sense serve sever shade shaft sham shame shape share
shark sharp shave shear sheer shell shift shin shine shirk shirt shoal
shock shoe shoo shoot shore short shout shove show shrew shuck shunt
sick side sidle sieve sift sigh sight sign silt sing singe sink
sire site size skate skew skill skimp skirt skulk skunk slack slake
slant slash slat slate slay sleek sleep sleet slew slice slick slid
sling slink slop slope slosh slow slump smack small smart smash smear
smell smelt smile smirk smit smock smoke snack snail snake snare snarl
sneak sneer sniff snip snipe snoop snore snort snow snuff soak soap
soar sober sock soil sole solid solo solve sore sort sound soup
sour space spade spank spar spare spark spawn spay speak spear speck
spell spend spew spice spike spill spit spite spoil spoof spook spool
spoon sport spout spray spree spurn spurt stack staff stag stage stain
stake stale stalk stall stamp stand star stare start state stave stay
steal steam steel steep steer stern stew stick stiff still sting stink
stint stock stoke stomp stone stoop store storm stow straw stray strew
strip stuff stump stunt style suck sugar suit suite sulk surf surge
swamp swarm sway swear sweat sweep sweet swell swift swill swing swipe
swirl swish swoon swoop table taboo tabu tack tail taint take talk
tame tango tank tape taper tart task taste taunt taxi teach team
tear tease teem teeth tell tempt tend tense tent term test thank
thaw think throw thumb thump tick tide tiff tight tile till tilt
time ting tinge tint tire title toast toil toll tomb tone tool
toot torch total tote touch tough tour tout towel tower trace track
trade trail train tramp trash trawl tread treat tree trend trial trick
trill troll troop truck true trump trunk trust tube tuck tuft tune
turf turn tutor twang tweak tweet twin twine twirl twist type undo
unit unite unsay untie upend urge usher usurp utter valet value valve
vast vault veer veil vein vend vent verge verse vest veto vice
view visa vise visit voice void vomit vote vouch wade waft wage
wager wail wait waive wake waken walk wall waltz wand wane want
ward warm warn warp wash waste watch water wave waver wean wear
weave wedge weep weigh weld well welt whack whale wheel whiff while
whine whir whirl whirr whisk white whizz whoop wick widen widow wield
wild will wilt wince winch wind wine wing wink wipe wire wise
wish witch wolf wood woof word work worm worst wound wreak wreck
wrest wring writ write wrong yacht yack yank yawn yearn yell yelp
yield yodel yoke yowl zero zinc zone zoom
`;

/** The code words, sorted, all distinct. */
export const CODE_WORDS: readonly string[] = Object.freeze(
  WORDS.trim().split(/\s+/),
);
